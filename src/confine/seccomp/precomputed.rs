//! The default filter for x86_64, precomputed: `compile(&SeccompSpec::default_filter(),
//! Arch::X86_64)`. Generated; do not edit. The unit test
//! `precomputed_default_program_is_current` checks it; to regenerate, run it with
//! `SBX_BLESS=1`. The layout is described in `bpf.rs`.

use super::bpf::jump as i;
use super::sock_filter;

pub static DEFAULT_X86_64: [sock_filter; 99] = [
    i(0x0020, 0x00000004, 0, 0),  // 0: ld arch
    i(0x0015, 0xc000003e, 1, 0),  // 1: jeq AUDIT_ARCH_X86_64 ? 3 : 2
    i(0x0006, 0x80000000, 0, 0),  // 2: ret KILL_PROCESS
    i(0x0020, 0x00000000, 0, 0),  // 3: ld nr
    i(0x0035, 0x40000000, 0, 2),  // 4: jge 0x40000000 ? 5 : 7
    i(0x0015, 0xffffffff, 1, 0),  // 5: jeq 0xffffffff ? 7 : 6
    i(0x0006, 0x80000000, 0, 0),  // 6: ret KILL_PROCESS
    i(0x0035, 0x000000fb, 45, 0), // 7: jge 251 (ioprio_set) ? 53 : 8
    i(0x0035, 0x000000a2, 25, 0), // 8: jge 162 (sync) ? 34 : 9
    i(0x0035, 0x0000009b, 15, 0), // 9: jge 155 (pivot_root) ? 25 : 10
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
    i(0x0035, 0x00000039, 1, 0),  // 22: jge 57 (fork) ? 24 : 23
    i(0x0005, 0x00000046, 0, 0),  // 23: ja 94
    i(0x0006, 0x7fff0000, 0, 0),  // 24: ret ALLOW
    i(0x0035, 0x0000009f, 3, 0),  // 25: jge 159 (adjtimex) ? 29 : 26
    i(0x0035, 0x0000009c, 1, 0),  // 26: jge 156 (_sysctl) ? 28 : 27
    i(0x0006, 0x00050001, 0, 0),  // 27: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 28: ret ALLOW
    i(0x0035, 0x000000a0, 1, 0),  // 29: jge 160 (setrlimit) ? 31 : 30
    i(0x0006, 0x00050001, 0, 0),  // 30: ret ERRNO(EPERM)
    i(0x0035, 0x000000a1, 1, 0),  // 31: jge 161 (chroot) ? 33 : 32
    i(0x0006, 0x7fff0000, 0, 0),  // 32: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 33: ret ERRNO(EPERM)
    i(0x0035, 0x000000e3, 9, 0),  // 34: jge 227 (clock_settime) ? 44 : 35
    i(0x0035, 0x000000aa, 3, 0),  // 35: jge 170 (sethostname) ? 39 : 36
    i(0x0035, 0x000000a3, 1, 0),  // 36: jge 163 (acct) ? 38 : 37
    i(0x0006, 0x7fff0000, 0, 0),  // 37: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 38: ret ERRNO(EPERM)
    i(0x0035, 0x000000af, 1, 0),  // 39: jge 175 (init_module) ? 41 : 40
    i(0x0006, 0x7fff0000, 0, 0),  // 40: ret ALLOW
    i(0x0035, 0x000000b1, 1, 0),  // 41: jge 177 ? 43 : 42
    i(0x0006, 0x00050001, 0, 0),  // 42: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 43: ret ALLOW
    i(0x0035, 0x000000f6, 3, 0),  // 44: jge 246 (kexec_load) ? 48 : 45
    i(0x0035, 0x000000e4, 1, 0),  // 45: jge 228 (clock_gettime) ? 47 : 46
    i(0x0006, 0x00050001, 0, 0),  // 46: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 47: ret ALLOW
    i(0x0035, 0x000000f7, 1, 0),  // 48: jge 247 (waitid) ? 50 : 49
    i(0x0006, 0x00050001, 0, 0),  // 49: ret ERRNO(EPERM)
    i(0x0035, 0x000000f8, 1, 0),  // 50: jge 248 (add_key) ? 52 : 51
    i(0x0006, 0x7fff0000, 0, 0),  // 51: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 52: ret ERRNO(EPERM)
    i(0x0035, 0x00000142, 19, 0), // 53: jge 322 (execveat) ? 73 : 54
    i(0x0035, 0x0000012f, 9, 0),  // 54: jge 303 (name_to_handle_at) ? 64 : 55
    i(0x0035, 0x00000111, 3, 0),  // 55: jge 273 (set_robust_list) ? 59 : 56
    i(0x0035, 0x00000110, 1, 0),  // 56: jge 272 (unshare) ? 58 : 57
    i(0x0006, 0x7fff0000, 0, 0),  // 57: ret ALLOW
    i(0x0005, 0x00000023, 0, 0),  // 58: ja 94
    i(0x0035, 0x0000012a, 1, 0),  // 59: jge 298 (perf_event_open) ? 61 : 60
    i(0x0006, 0x7fff0000, 0, 0),  // 60: ret ALLOW
    i(0x0035, 0x0000012b, 1, 0),  // 61: jge 299 (recvmmsg) ? 63 : 62
    i(0x0006, 0x00050001, 0, 0),  // 62: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 63: ret ALLOW
    i(0x0035, 0x00000139, 3, 0),  // 64: jge 313 (finit_module) ? 68 : 65
    i(0x0035, 0x00000132, 1, 0),  // 65: jge 306 (syncfs) ? 67 : 66
    i(0x0006, 0x00050001, 0, 0),  // 66: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 67: ret ALLOW
    i(0x0035, 0x0000013a, 1, 0),  // 68: jge 314 (sched_setattr) ? 70 : 69
    i(0x0006, 0x00050001, 0, 0),  // 69: ret ERRNO(EPERM)
    i(0x0035, 0x00000140, 1, 0),  // 70: jge 320 (kexec_file_load) ? 72 : 71
    i(0x0006, 0x7fff0000, 0, 0),  // 71: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 72: ret ERRNO(EPERM)
    i(0x0035, 0x000001b3, 9, 0),  // 73: jge 435 (clone3) ? 83 : 74
    i(0x0035, 0x00000144, 3, 0),  // 74: jge 324 (membarrier) ? 78 : 75
    i(0x0035, 0x00000143, 1, 0),  // 75: jge 323 (userfaultfd) ? 77 : 76
    i(0x0006, 0x7fff0000, 0, 0),  // 76: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 77: ret ERRNO(EPERM)
    i(0x0035, 0x000001a9, 1, 0),  // 78: jge 425 (io_uring_setup) ? 80 : 79
    i(0x0006, 0x7fff0000, 0, 0),  // 79: ret ALLOW
    i(0x0035, 0x000001b2, 1, 0),  // 80: jge 434 (pidfd_open) ? 82 : 81
    i(0x0006, 0x00050001, 0, 0),  // 81: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 82: ret ALLOW
    i(0x0035, 0x000001bb, 5, 0),  // 83: jge 443 (quotactl_fd) ? 89 : 84
    i(0x0035, 0x000001b4, 1, 0),  // 84: jge 436 (close_range) ? 86 : 85
    i(0x0006, 0x00050026, 0, 0),  // 85: ret ERRNO(ENOSYS)
    i(0x0035, 0x000001ba, 1, 0),  // 86: jge 442 (mount_setattr) ? 88 : 87
    i(0x0006, 0x7fff0000, 0, 0),  // 87: ret ALLOW
    i(0x0006, 0x00050001, 0, 0),  // 88: ret ERRNO(EPERM)
    i(0x0035, 0x000001d3, 1, 0),  // 89: jge 467 (open_tree_attr) ? 91 : 90
    i(0x0006, 0x7fff0000, 0, 0),  // 90: ret ALLOW
    i(0x0035, 0x000001d4, 1, 0),  // 91: jge 468 (file_getattr) ? 93 : 92
    i(0x0006, 0x00050001, 0, 0),  // 92: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 93: ret ALLOW
    i(0x0020, 0x00000010, 0, 0),  // 94: ld arg0.lo
    i(0x0054, 0x10000000, 0, 0),  // 95: and 0x10000000
    i(0x0015, 0x10000000, 0, 1),  // 96: jeq 0x10000000 ? 97 : 98
    i(0x0006, 0x00050001, 0, 0),  // 97: ret ERRNO(EPERM)
    i(0x0006, 0x7fff0000, 0, 0),  // 98: ret ALLOW
];
