//! The default filter for x86_64, precomputed: `compile(&SeccompSpec::default_filter(),
//! Arch::X86_64)`. Generated; do not edit. The unit test
//! `precomputed_default_program_is_current` checks it; to regenerate, run it with
//! `SBX_BLESS=1`. The layout is described in `bpf.rs`.

use super::bpf::jump as i;
use super::sock_filter;

pub static DEFAULT_X86_64: [sock_filter; 95] = [
    i(0x0020, 0x00000004, 0, 0),  // 0: ld arch
    i(0x0015, 0xc000003e, 1, 0),  // 1: jeq AUDIT_ARCH_X86_64 ? 3 : 2
    i(0x0006, 0x80000000, 0, 0),  // 2: ret KILL_PROCESS
    i(0x0020, 0x00000000, 0, 0),  // 3: ld nr
    i(0x0035, 0x40000000, 0, 2),  // 4: jge 0x40000000 ? 5 : 7
    i(0x0015, 0xffffffff, 1, 0),  // 5: jeq 0xffffffff ? 7 : 6
    i(0x0006, 0x80000000, 0, 0),  // 6: ret KILL_PROCESS
    i(0x0035, 0x00000110, 43, 0), // 7: jge 272 (unshare) ? 51 : 8
    i(0x0035, 0x000000a3, 23, 0), // 8: jge 163 (acct) ? 32 : 9
    i(0x0035, 0x00000039, 13, 0), // 9: jge 57 (fork) ? 23 : 10
    i(0x0035, 0x00000011, 9, 0),  // 10: jge 17 (pread64) ? 20 : 11
    i(0x0035, 0x00000010, 1, 0),  // 11: jge 16 (ioctl) ? 13 : 12
    i(0x0006, 0x7fff0000, 0, 0),  // 12: ret ALLOW
    i(0x0020, 0x00000018, 0, 0),  // 13: ld arg1.lo
    i(0x0015, 0x00005412, 0, 1),  // 14: jeq 0x5412 ? 15 : 16
    i(0x0006, 0x00050001, 0, 0),  // 15: ret ERRNO(EPERM)
    i(0x0020, 0x00000018, 0, 0),  // 16: ld arg1.lo
    i(0x0015, 0x0000541c, 0, 1),  // 17: jeq 0x541c ? 18 : 19
    i(0x0006, 0x00050001, 0, 0),  // 18: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 19: ret ALLOW
    i(0x0035, 0x00000038, 1, 0),  // 20: jge 56 (clone) ? 22 : 21
    i(0x0006, 0x7fff0000, 0, 0),  // 21: ret ALLOW
    i(0x0005, 0x00000043, 0, 0),  // 22: ja 90
    i(0x0035, 0x0000009c, 3, 0),  // 23: jge 156 (_sysctl) ? 27 : 24
    i(0x0035, 0x0000009b, 1, 0),  // 24: jge 155 (pivot_root) ? 26 : 25
    i(0x0006, 0x7fff0000, 0, 0),  // 25: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 26: ret ERRNO(EPERM)
    i(0x0035, 0x0000009f, 1, 0),  // 27: jge 159 (adjtimex) ? 29 : 28
    i(0x0006, 0x7fff0000, 0, 0),  // 28: ret ALLOW
    i(0x0035, 0x000000a0, 1, 0),  // 29: jge 160 (setrlimit) ? 31 : 30
    i(0x0006, 0x00050001, 0, 0),  // 30: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 31: ret ALLOW
    i(0x0035, 0x000000e4, 9, 0),  // 32: jge 228 (clock_gettime) ? 42 : 33
    i(0x0035, 0x000000af, 3, 0),  // 33: jge 175 (init_module) ? 37 : 34
    i(0x0035, 0x000000aa, 1, 0),  // 34: jge 170 (sethostname) ? 36 : 35
    i(0x0006, 0x00050001, 0, 0),  // 35: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 36: ret ALLOW
    i(0x0035, 0x000000b1, 1, 0),  // 37: jge 177 ? 39 : 38
    i(0x0006, 0x00050001, 0, 0),  // 38: ret ERRNO(EPERM)
    i(0x0035, 0x000000e3, 1, 0),  // 39: jge 227 (clock_settime) ? 41 : 40
    i(0x0006, 0x7fff0000, 0, 0),  // 40: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 41: ret ERRNO(EPERM)
    i(0x0035, 0x000000f7, 3, 0),  // 42: jge 247 (waitid) ? 46 : 43
    i(0x0035, 0x000000f6, 1, 0),  // 43: jge 246 (kexec_load) ? 45 : 44
    i(0x0006, 0x7fff0000, 0, 0),  // 44: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 45: ret ERRNO(EPERM)
    i(0x0035, 0x000000f8, 1, 0),  // 46: jge 248 (add_key) ? 48 : 47
    i(0x0006, 0x7fff0000, 0, 0),  // 47: ret ALLOW
    i(0x0035, 0x000000fb, 1, 0),  // 48: jge 251 (ioprio_set) ? 50 : 49
    i(0x0006, 0x00050001, 0, 0),  // 49: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 50: ret ALLOW
    i(0x0035, 0x00000143, 19, 0), // 51: jge 323 (userfaultfd) ? 71 : 52
    i(0x0035, 0x00000132, 9, 0),  // 52: jge 306 (syncfs) ? 62 : 53
    i(0x0035, 0x0000012a, 3, 0),  // 53: jge 298 (perf_event_open) ? 57 : 54
    i(0x0035, 0x00000111, 1, 0),  // 54: jge 273 (set_robust_list) ? 56 : 55
    i(0x0005, 0x00000022, 0, 0),  // 55: ja 90
    i(0x0006, 0x7fff0000, 0, 0),  // 56: ret ALLOW
    i(0x0035, 0x0000012b, 1, 0),  // 57: jge 299 (recvmmsg) ? 59 : 58
    i(0x0006, 0x00050001, 0, 0),  // 58: ret ERRNO(EPERM)
    i(0x0035, 0x0000012f, 1, 0),  // 59: jge 303 (name_to_handle_at) ? 61 : 60
    i(0x0006, 0x7fff0000, 0, 0),  // 60: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 61: ret ERRNO(EPERM)
    i(0x0035, 0x0000013a, 3, 0),  // 62: jge 314 (sched_setattr) ? 66 : 63
    i(0x0035, 0x00000139, 1, 0),  // 63: jge 313 (finit_module) ? 65 : 64
    i(0x0006, 0x7fff0000, 0, 0),  // 64: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 65: ret ERRNO(EPERM)
    i(0x0035, 0x00000140, 1, 0),  // 66: jge 320 (kexec_file_load) ? 68 : 67
    i(0x0006, 0x7fff0000, 0, 0),  // 67: ret ALLOW
    i(0x0035, 0x00000142, 1, 0),  // 68: jge 322 (execveat) ? 70 : 69
    i(0x0006, 0x00050001, 0, 0),  // 69: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 70: ret ALLOW
    i(0x0035, 0x000001b4, 9, 0),  // 71: jge 436 (close_range) ? 81 : 72
    i(0x0035, 0x000001a9, 3, 0),  // 72: jge 425 (io_uring_setup) ? 76 : 73
    i(0x0035, 0x00000144, 1, 0),  // 73: jge 324 (membarrier) ? 75 : 74
    i(0x0006, 0x00050001, 0, 0),  // 74: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 75: ret ALLOW
    i(0x0035, 0x000001b2, 1, 0),  // 76: jge 434 (pidfd_open) ? 78 : 77
    i(0x0006, 0x00050001, 0, 0),  // 77: ret ERRNO(EPERM)
    i(0x0035, 0x000001b3, 1, 0),  // 78: jge 435 (clone3) ? 80 : 79
    i(0x0006, 0x7fff0000, 0, 0),  // 79: ret ALLOW
    i(0x0006, 0x00050026, 0, 0),  // 80: ret ERRNO(ENOSYS)
    i(0x0035, 0x000001bb, 3, 0),  // 81: jge 443 (quotactl_fd) ? 85 : 82
    i(0x0035, 0x000001ba, 1, 0),  // 82: jge 442 (mount_setattr) ? 84 : 83
    i(0x0006, 0x7fff0000, 0, 0),  // 83: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 84: ret ERRNO(EPERM)
    i(0x0035, 0x000001d3, 1, 0),  // 85: jge 467 (open_tree_attr) ? 87 : 86
    i(0x0006, 0x7fff0000, 0, 0),  // 86: ret ALLOW
    i(0x0035, 0x000001d4, 1, 0),  // 87: jge 468 (file_getattr) ? 89 : 88
    i(0x0006, 0x00050001, 0, 0),  // 88: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 89: ret ALLOW
    i(0x0020, 0x00000010, 0, 0),  // 90: ld arg0.lo
    i(0x0054, 0x10000000, 0, 0),  // 91: and 0x10000000
    i(0x0015, 0x10000000, 0, 1),  // 92: jeq 0x10000000 ? 93 : 94
    i(0x0006, 0x00050001, 0, 0),  // 93: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 94: ret ALLOW
];
