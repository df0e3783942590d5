# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sbx_global_optspecs
    string join \n policy= r/map-root map-current map-auto map-users= map-groups= uid= gid= net= p/publish= share-net share-ipc share-uts share-pid share-cgroup unshare-time hostname= chdir= setenv= unsetenv= clearenv cap-add= as-pid-1 new-session json-status-fd= name= persist= v/verbose bind= bind-try= ro-bind= ro-bind-try= dev-bind= dev-bind-try= tmpfs= size= perms= dir= symlink= remount-ro= proc= dev= mqueue= overlay-src= tmp-overlay= overlay= mask= allow-home-write unprotect= root= propagation= h/help V/version
end

function __fish_sbx_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sbx_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sbx_using_subcommand
    set -l cmd (__fish_sbx_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sbx -n "__fish_sbx_needs_command" -l policy -d 'The policy to start from: a name (looked up in $XDG_CONFIG_HOME/sbx/policies, /etc/sbx/policies, then the built-in ones) or a file (a value containing / or ending in .toml); never the current directory. Command-line options override it. [default: default]' -r
complete -c sbx -n "__fish_sbx_needs_command" -l map-users -d 'Map uids INNER..INNER+COUNT inside to OUTER..OUTER+COUNT outside (util-linux 2.39 order; repeatable), or `auto` for the caller\'s subordinate uids. The outer ids must be the caller\'s own or in /etc/subuid; newuidmap writes the map' -r
complete -c sbx -n "__fish_sbx_needs_command" -l map-groups -d 'Like --map-users, for gids and /etc/subgid (newgidmap writes the map)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l uid -d 'The uid that the caller\'s uid appears as inside (overrides --map-root and --map-current)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l gid -d 'The gid that the caller\'s gid appears as inside (overrides --map-root and --map-current)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l net -d 'The sandbox\'s network: none (a new namespace with only lo, the default), host (the host\'s, like --share-net) or pasta (a new namespace with user-mode networking through pasta(1), package passt; every address of the host stays out of reach unless a port is published, so pasta is refused to a command that keeps CAP_NET_RAW or CAP_NET_ADMIN)' -r -f -a "none\t'A new network namespace with only the loopback interface'
host\t'The host\'s network namespace (the same as --share-net)'
pasta\t'A new network namespace with user-mode networking through pasta (package passt)'"
complete -c sbx -n "__fish_sbx_needs_command" -s p -l publish -d 'Forward a host port to a port of the sandbox (with --net pasta): [HOST_IP:]HOST_PORT:PORT[/tcp|/udp]. Repeatable' -r
complete -c sbx -n "__fish_sbx_needs_command" -l hostname -d 'The hostname inside the sandbox\'s new UTS namespace [default: sbx]' -r
complete -c sbx -n "__fish_sbx_needs_command" -l chdir -d 'Working directory of the command inside (default: the current directory, else /)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l setenv -d 'Set NAME to VALUE in the command\'s environment (applied in command-line order)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l unsetenv -d 'Remove NAME from the command\'s environment (applied in command-line order)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l cap-add -d 'Keep capability CAP (CAP_NET_RAW, net_raw or ALL); every other one is dropped, the bounding set included. Repeatable' -r
complete -c sbx -n "__fish_sbx_needs_command" -l json-status-fd -d 'Write JSON lines with the sandbox\'s status to FD: {"child-pid": N, "<ns>-namespace": INODE, ...} when the command starts, then {"exit-code": N} when it ends (bwrap\'s keys)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l name -d 'Register the sandbox under NAME in the caller\'s runtime directory, so that `sbx ps` lists it and `sbx enter NAME` joins it' -r
complete -c sbx -n "__fish_sbx_needs_command" -l persist -d 'Keep the sandbox\'s namespaces alive in DIR by bind-mounting their files there (needs real root; rootless, use --name), for `sbx enter DIR`. The PID namespace is not kept: it ends with its last process' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l bind -d 'Bind-mount SRC (from the host) on DEST, read-write, recursively, nosuid and nodev' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l bind-try -d 'Like --bind, but a missing SRC is skipped' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l ro-bind -d 'Bind-mount SRC on DEST read-only, in every submount too' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l ro-bind-try -d 'Like --ro-bind, but a missing SRC is skipped' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l dev-bind -d 'Bind-mount SRC on DEST read-write with device nodes usable (no nodev)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l dev-bind-try -d 'Like --dev-bind, but a missing SRC is skipped' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l tmpfs -d 'Mount a new tmpfs on DEST (see --size and --perms)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l size -d 'The size limit of the next --tmpfs, in bytes (suffixes k, m, g allowed)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l perms -d 'The octal permissions of the next --tmpfs or --dir (default 0755)' -r
complete -c sbx -n "__fish_sbx_needs_command" -l dir -d 'Create the directory DEST (and its parents)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l symlink -d 'Create a symbolic link DEST pointing to TARGET' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l remount-ro -d 'Make the mount at DEST read-only, with all its submounts' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l proc -d 'Mount a fresh procfs for the sandbox\'s PID namespace on DEST; /proc/sys, /proc/sysrq-trigger, /proc/irq and /proc/bus are read-only' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l dev -d 'Mount a minimal /dev on DEST: null, zero, full, random, urandom and tty from the host, the stdin, stdout, stderr, fd and core links, ptmx on a new devpts instance, shm as tmpfs' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l mqueue -d 'Mount a POSIX message queue filesystem on DEST (needs the sandbox\'s own IPC namespace)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l overlay-src -d 'Add SRC as a lower layer of the next overlay (later ones are higher)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l tmp-overlay -d 'Mount an overlay of the --overlay-src layers on DEST, with writes going to an invisible tmpfs that disappears with the sandbox' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l overlay -d 'Mount an overlay of the --overlay-src layers on DEST, with writes going to RWSRC (WORKDIR is overlayfs\' empty work directory on the same filesystem)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l mask -d 'Put an empty, unreadable mount over PATH (skipped when PATH does not exist inside)' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l unprotect -d 'Make PATH of the project writable although it is protected (see PROTECTED PATHS in the description; e.g. `--unprotect .git` for a build that commits, and also `--unprotect .git/hooks` for `pre-commit install`). Repeatable' -r
complete -c sbx -n "__fish_sbx_needs_command" -l root -d 'Start the view from the root tree DIR (e.g. a debootstrap\'d system) instead of an empty tmpfs; without other filesystem options, /dev, /proc and /tmp are mounted where DIR has them' -r -F
complete -c sbx -n "__fish_sbx_needs_command" -l propagation -d 'Mount propagation of the sandbox\'s tree, as unshare(1) means it. The default, private, keeps every mount made inside from reaching the host' -r -f -a "private\t'Nothing propagates in either direction'
slave\t'Mounts from the host propagate in; nothing propagates out'
shared\t'Mounts from the host propagate in, and mounts inside propagate between the sandbox\'s own peers (nested mount namespaces); the host\'s tree is detached, so none reaches it'
unchanged\t'Keep what the new mount namespace inherited (rootless, the kernel has already made the host\'s shared mounts slaves; real root needs slave, as pivot_root refuses shared mounts)'"
complete -c sbx -n "__fish_sbx_needs_command" -s r -l map-root -d 'Map the caller\'s uid and gid to 0 (root) inside the sandbox'
complete -c sbx -n "__fish_sbx_needs_command" -l map-current -d 'Map the caller\'s uid and gid to themselves inside the sandbox (the default)'
complete -c sbx -n "__fish_sbx_needs_command" -l map-auto -d 'Map the caller to 0 (root) inside and its subordinate ids (/etc/subuid, /etc/subgid) to 1..N, through newuidmap and newgidmap, as `unshare --map-auto --map-root-user` and rootless Podman do. The same as --map-users auto --map-groups auto. Root inside then keeps CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETUID and CAP_SETGID, which act only on the ids mapped into the sandbox, so that chown and tar work'
complete -c sbx -n "__fish_sbx_needs_command" -l share-net -d 'Keep the host\'s network namespace (the sandbox sees the host\'s interfaces)'
complete -c sbx -n "__fish_sbx_needs_command" -l share-ipc -d 'Keep the host\'s IPC namespace (System V IPC and POSIX message queues)'
complete -c sbx -n "__fish_sbx_needs_command" -l share-uts -d 'Keep the host\'s UTS namespace (hostname and domain name); --hostname is then refused'
complete -c sbx -n "__fish_sbx_needs_command" -l share-pid -d 'Keep the host\'s PID namespace: the sandbox sees the host\'s processes'
complete -c sbx -n "__fish_sbx_needs_command" -l share-cgroup -d 'Keep the host\'s cgroup namespace'
complete -c sbx -n "__fish_sbx_needs_command" -l unshare-time -d 'Also create a new time namespace (CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets)'
complete -c sbx -n "__fish_sbx_needs_command" -l clearenv -d 'Start the command with an empty environment (--setenv still applies)'
complete -c sbx -n "__fish_sbx_needs_command" -l as-pid-1 -d 'Run the command itself as PID 1 of the new PID namespace, without sbx\'s init. The command then has to reap zombies and handle signals itself'
complete -c sbx -n "__fish_sbx_needs_command" -l new-session -d 'Call setsid() before executing the command, detaching it from the controlling terminal (which also blocks TIOCSTI input injection into it)'
complete -c sbx -n "__fish_sbx_needs_command" -s v -l verbose -d 'Print each setup step on standard error'
complete -c sbx -n "__fish_sbx_needs_command" -l allow-home-write -d 'Allow a read-write bind (or --root, or an overlay\'s upper directory) whose source is /, your home or a directory above it. Refused otherwise, from the command line and from every policy alike: whatever the sandbox writes there, such as ~/.bashrc, runs outside it later. Only the command line can give this; no policy file can'
complete -c sbx -n "__fish_sbx_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sbx -n "__fish_sbx_needs_command" -s V -l version -d 'Print version'
complete -c sbx -n "__fish_sbx_needs_command" -a "policy" -d 'List, show and check policies'
complete -c sbx -n "__fish_sbx_needs_command" -a "unshare" -d 'Run a program with some namespaces unshared: a drop-in for util-linux unshare(1), with its options, semantics and exit statuses (`sbx unshare --help`). Also what sbx does when installed as `unshare`'
complete -c sbx -n "__fish_sbx_needs_command" -a "nsenter" -d 'Run a program in the namespaces of another process: a drop-in for util-linux nsenter(1) (`sbx nsenter --help`). Also what sbx does when installed as `nsenter`'
complete -c sbx -n "__fish_sbx_needs_command" -a "ps" -d 'List the caller\'s running named sandboxes: name, pid, policy, start time, command'
complete -c sbx -n "__fish_sbx_needs_command" -a "enter" -d 'Run a command (default: the user\'s shell) in a running sandbox of the caller\'s, named, given by pid, or persisted in a directory, under the same confinement as the sandbox'
complete -c sbx -n "__fish_sbx_needs_command" -a "ns" -d 'Show the namespaces of a process (default: the caller): type, inode, owning user namespace, and whether it is the host\'s'
complete -c sbx -n "__fish_sbx_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and not __fish_seen_subcommand_from list show check help" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and not __fish_seen_subcommand_from list show check help" -f -a "list" -d 'List the policies that --policy NAME can reach: name, where it comes from, description'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and not __fish_seen_subcommand_from list show check help" -f -a "show" -d 'Print the resolved policy NAME (or file), each value marked with the file and line it came from'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and not __fish_seen_subcommand_from list show check help" -f -a "check" -d 'Check policy files: exit 0 when all are valid, else print every error with file:line:column and a hint, and exit 125'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and not __fish_seen_subcommand_from list show check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the policies that --policy NAME can reach: name, where it comes from, description'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the resolved policy NAME (or file), each value marked with the file and line it came from'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check policy files: exit 0 when all are valid, else print every error with file:line:column and a hint, and exit 125'
complete -c sbx -n "__fish_sbx_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sbx -n "__fish_sbx_using_subcommand ps" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand enter" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand ns" -s h -l help -d 'Print help'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "policy" -d 'List, show and check policies'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "unshare" -d 'Run a program with some namespaces unshared: a drop-in for util-linux unshare(1), with its options, semantics and exit statuses (`sbx unshare --help`). Also what sbx does when installed as `unshare`'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "nsenter" -d 'Run a program in the namespaces of another process: a drop-in for util-linux nsenter(1) (`sbx nsenter --help`). Also what sbx does when installed as `nsenter`'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "ps" -d 'List the caller\'s running named sandboxes: name, pid, policy, start time, command'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "enter" -d 'Run a command (default: the user\'s shell) in a running sandbox of the caller\'s, named, given by pid, or persisted in a directory, under the same confinement as the sandbox'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "ns" -d 'Show the namespaces of a process (default: the caller): type, inode, owning user namespace, and whether it is the host\'s'
complete -c sbx -n "__fish_sbx_using_subcommand help; and not __fish_seen_subcommand_from policy unshare nsenter ps enter ns help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sbx -n "__fish_sbx_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "list" -d 'List the policies that --policy NAME can reach: name, where it comes from, description'
complete -c sbx -n "__fish_sbx_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the resolved policy NAME (or file), each value marked with the file and line it came from'
complete -c sbx -n "__fish_sbx_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Check policy files: exit 0 when all are valid, else print every error with file:line:column and a hint, and exit 125'
