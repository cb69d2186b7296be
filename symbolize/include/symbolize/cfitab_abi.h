/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The row format of a compiled unwind table (cfitab), the ABI between the
 * table compiler (symbolize/src/cfitab.c) and an unwinder that reads it (the
 * BPF program, cfitab_lookup()). No includes and only `unsigned int` (32 bits
 * on x86-64 and in BPF), so a BPF program can include it beside vmlinux.h.
 *
 * A table is an array of rows sorted by strictly increasing pc. Row i covers
 * the object's addresses [base + rows[i].pc, base + rows[i+1].pc), base being
 * the table's ELF address of pc 0 (struct cfitab.base: the lowest PT_LOAD
 * address, so base + load bias = where the object's first segment is
 * mapped). The last row is always a CFITAB_CFA_GAP row (where the last FDE
 * ends), and an address below the first row is a gap too: a binary search
 * for the last row with pc <= (addr - bias - base) answers every address.
 * Adjacent rows always differ (identical neighbours are merged).
 *
 * Looking up a caller's frame, search for return address - 1 (the call may
 * be the last instruction of a function); the sampled frame and the frame
 * interrupted by a signal (the one after a CFITAB_CFA_SIGNAL row) use their
 * exact pc.
 *
 * rule (32 bits):
 *   bits  0..3   CFA kind, CFITAB_CFA_*
 *   bits  4..5   caller's rbp kind, CFITAB_RBP_*
 *   bits  6..15  aux, signed: CFITAB_RBP_CFA: rbp offset from the CFA / 8;
 *                CFITAB_CFA_PLT: the (rip & 15) threshold; else 0
 *   bits 16..31  CFA offset / 8, unsigned (0..524280 bytes)
 *
 * For the RSP, RBP and PLT kinds the return address is at CFA - 8 and the
 * caller's rsp is the CFA (rules with the return address elsewhere are
 * CFITAB_CFA_UNSUP).
 */
#ifndef STACKD_SYMBOLIZE_CFITAB_ABI_H
#define STACKD_SYMBOLIZE_CFITAB_ABI_H

struct cfitab_row {
	unsigned int pc;   /* ELF address - base */
	unsigned int rule; /* CFITAB_* fields below */
};

enum cfitab_cfa {
	CFITAB_CFA_GAP = 0,    /* no CFI here: the walker may try the frame pointer */
	CFITAB_CFA_RSP = 1,    /* CFA = rsp + off */
	CFITAB_CFA_RBP = 2,    /* CFA = rbp + off */
	CFITAB_CFA_PLT = 3,    /* CFA = rsp + off + ((rip & 15) >= aux ? 8 : 0): PLT stubs */
	CFITAB_CFA_SIGNAL = 4, /* rt_sigreturn trampoline (__restore_rt): rsp points at the
				* kernel's struct ucontext: the interrupted rip is at rsp + 168,
				* its rsp at rsp + 160, its rbp at rsp + 120 */
	CFITAB_CFA_STOP = 5,   /* return address undefined: outermost frame (_start, thread
				* entry); the walk is complete */
	CFITAB_CFA_UNSUP = 6,  /* CFI that this format cannot say (CFA from another register or
				* an unknown expression, return address not at CFA - 8, offset
				* out of range or not a multiple of 8): the walk ends here */
};

enum cfitab_rbp {
	CFITAB_RBP_SAME = 0,  /* the caller's rbp is the current rbp */
	CFITAB_RBP_CFA = 1,   /* saved at CFA + aux * 8 */
	CFITAB_RBP_UNDEF = 2, /* explicitly undefined: unknown */
	CFITAB_RBP_UNSUP = 3, /* in a register, an expression or out of range: unknown */
};

#define CFITAB_AUX_MIN	   (-512)
#define CFITAB_AUX_MAX	   511
#define CFITAB_CFA_OFF_MAX (0xffffu * 8u)

#define CFITAB_RULE(cfa, rbp, aux, cfa_off)                                                        \
	((unsigned int)(cfa) | ((unsigned int)(rbp) << 4) | (((unsigned int)(aux)&0x3ffu) << 6) |  \
	 (((unsigned int)(cfa_off) / 8u) << 16))
#define CFITAB_RULE_CFA(rule)	  ((rule)&0xfu)
#define CFITAB_RULE_RBP(rule)	  (((rule) >> 4) & 0x3u)
#define CFITAB_RULE_AUX(rule)	  ((int)((((rule) >> 6) & 0x3ffu) ^ 0x200u) - 0x200)
#define CFITAB_RULE_CFA_OFF(rule) (((rule) >> 16) * 8u)

#endif
