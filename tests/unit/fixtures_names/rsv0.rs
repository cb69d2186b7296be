// SPDX-License-Identifier: Apache-2.0
// Fixture for test_names: built with -C symbol-mangling-version=v0 when rustc exists.
pub mod outer {
    pub struct Foo<T>(pub T);
    impl<T: Copy> Foo<T> {
        #[inline(never)]
        pub fn get(&self) -> T {
            self.0
        }
    }
}

#[inline(never)]
pub fn hot_loop(n: u64) -> u64 {
    let mut s = 0;
    for i in 0..n {
        s += i
    }
    s
}

fn main() {
    let f = outer::Foo(3u32);
    println!("{} {}", f.get(), hot_loop(10));
}
