// SPDX-License-Identifier: Apache-2.0
// Fixture for test_names: a Go program whose hot function must resolve from
// the pclntab once the binary is stripped.
package main

import "os"

//go:noinline
func hotLoop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func main() {
	for len(os.Args) > 0 {
		if hotLoop(1000000) == 42 {
			os.Exit(1)
		}
	}
}
