#include "textflag.h"

// The string runs of scan_simd_amd64.go, 32 bytes a step with AVX2. A
// byte stops a run when it is a control character (below 0x20), '"' or
// '\\'; asciiRun's also when it is 0x80 or above. Read as signed bytes,
// those control characters and the bytes from 0x80 up are exactly the
// bytes less than 0x20, so one signed comparison flags both, and
// plainRun's clears the flags of the bytes whose high bit is set: those
// are never a quote, a backslash or a control character.
//
// Both read only p[0:n], n >= 32: whole blocks from the start, then the
// block that ends at n, which overlaps bytes already found plain, so the
// first flag it raises is past them.

DATA stopConsts<>+0(SB)/8, $0x2020202020202020
DATA stopConsts<>+8(SB)/8, $0x2020202020202020
DATA stopConsts<>+16(SB)/8, $0x2020202020202020
DATA stopConsts<>+24(SB)/8, $0x2020202020202020
DATA stopConsts<>+32(SB)/8, $0x2222222222222222
DATA stopConsts<>+40(SB)/8, $0x2222222222222222
DATA stopConsts<>+48(SB)/8, $0x2222222222222222
DATA stopConsts<>+56(SB)/8, $0x2222222222222222
DATA stopConsts<>+64(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA stopConsts<>+72(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA stopConsts<>+80(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA stopConsts<>+88(SB)/8, $0x5c5c5c5c5c5c5c5c
GLOBL stopConsts<>(SB), RODATA|NOPTR, $96

// STOPS flags in AX the bytes of the block at SI+DX that stop an ASCII
// run: bit k for byte k.
#define STOPS \
	VMOVDQU   (SI)(DX*1), Y0 \
	VPCMPGTB  Y0, Y1, Y4 \
	VPCMPEQB  Y0, Y2, Y5 \
	VPCMPEQB  Y0, Y3, Y6 \
	VPOR      Y5, Y4, Y4 \
	VPOR      Y6, Y4, Y4 \
	VPMOVMSKB Y4, AX

// PLAIN clears from AX the flags of bytes 0x80 and above, which stop an
// ASCII run but not a plain one.
#define PLAIN \
	VPMOVMSKB Y0, R8 \
	NOTL      R8 \
	ANDL      R8, AX

#define PROLOGUE \
	MOVQ    p+0(FP), SI \
	MOVQ    n+8(FP), CX \
	VMOVDQU stopConsts<>+0(SB), Y1 \
	VMOVDQU stopConsts<>+32(SB), Y2 \
	VMOVDQU stopConsts<>+64(SB), Y3 \
	XORQ    DX, DX \
	LEAQ    -32(CX), BX

// Each run reads blocks at DX = 0, 32, 64, ... while a whole block fits
// (DX <= BX = n-32; the first always does), then, unless they ended
// exactly at n, the block at BX.

// func plainRunAVX2(p *byte, n int) int
TEXT ·plainRunAVX2(SB), NOSPLIT, $0-24
	PROLOGUE

plainLoop:
	STOPS
	TESTL AX, AX
	JNZ   plainCheck

plainNext:
	ADDQ $32, DX
	CMPQ DX, BX
	JLS  plainLoop
	CMPQ DX, CX
	JEQ  plainNone
	MOVQ BX, DX
	STOPS
	PLAIN
	TESTL AX, AX
	JNZ   plainFound

plainNone:
	MOVQ CX, ret+16(FP)
	VZEROUPPER
	RET

plainCheck:
	// Only bytes 0x80 and above may have raised the flags: no stop.
	PLAIN
	TESTL AX, AX
	JZ    plainNext

plainFound:
	BSFL AX, AX
	ADDQ DX, AX
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET

// func asciiRunAVX2(p *byte, n int) int
TEXT ·asciiRunAVX2(SB), NOSPLIT, $0-24
	PROLOGUE

asciiLoop:
	STOPS
	TESTL AX, AX
	JNZ   asciiFound
	ADDQ  $32, DX
	CMPQ  DX, BX
	JLS   asciiLoop
	CMPQ  DX, CX
	JEQ   asciiNone
	MOVQ  BX, DX
	STOPS
	TESTL AX, AX
	JNZ   asciiFound

asciiNone:
	MOVQ CX, ret+16(FP)
	VZEROUPPER
	RET

asciiFound:
	BSFL AX, AX
	ADDQ DX, AX
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET
