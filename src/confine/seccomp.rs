//! The seccomp filter (work in progress).
