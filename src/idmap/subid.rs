//! Parsing /etc/subuid and /etc/subgid with shadow's rules (work in progress).
