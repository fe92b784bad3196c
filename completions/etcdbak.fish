# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_etcdbak_global_optspecs
    string join \n log-level= log-format= h/help V/version
end

function __fish_etcdbak_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_etcdbak_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_etcdbak_using_subcommand
    set -l cmd (__fish_etcdbak_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c etcdbak -n "__fish_etcdbak_needs_command" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_needs_command" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "snapshot" -d 'Take a verified snapshot of an etcd cluster into a directory (the Job\'s init container)'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "store" -d 'Upload a snapshot to S3, verify it, then apply retention (the default store container)'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "prune" -d 'Apply retention to one cluster\'s backups, or delete them all (the cleanup Job)'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "list" -d 'List backups in the bucket, newest first'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "download" -d 'Download a backup and check its SHA-256 before anyone restores it'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "restore-guide" -d 'Print a filled-in, numbered restore runbook for one cluster'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "reconcile" -d 'One reconcile pass: every Cluster resource -> its backup CronJob'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "watch" -d 'Run the controller continuously (in-cluster, with leader election)'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "crd" -d 'Print the Cluster CustomResourceDefinition as YAML'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "generate-assets" -d 'Regenerate the shell completions and man pages shipped in completions/ and man/'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l endpoints -d 'etcd client URLs, comma-separated or repeated. Every one is asked for its status and the snapshot comes from one healthy member. A URL without a scheme gets https:// when --cacert is set, else http://' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l cacert -d 'CA certificate (PEM) that signed the etcd server certificates. Required for https:// endpoints' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l cert -d 'Client certificate (PEM) for etcd\'s client-cert-auth. Needs --key' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l key -d 'Private key (PEM) of --cert. Its contents are never logged' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l dial-timeout -d 'How long each endpoint gets to connect and answer its status (e.g. 5s, 1m)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l timeout -d 'Limit for the whole run, streaming included. Generous on purpose: an 8 GiB database over a slow link takes many minutes, and a too-short limit only produces failed backups' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l dir -d 'Directory to write snapshot.db and snapshot.json into (created if missing)' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l cluster -d 'Name of the etcd cluster, recorded in snapshot.json (the store step files backups under it). Falls back to the CLUSTER environment variable (the store-container contract) when ETCDBAK_CLUSTER is unset' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand snapshot" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand crd" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand crd" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand crd" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand crd" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -l out -d 'The repository root to write completions/ and man/ into' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "snapshot" -d 'Take a verified snapshot of an etcd cluster into a directory (the Job\'s init container)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "store" -d 'Upload a snapshot to S3, verify it, then apply retention (the default store container)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "prune" -d 'Apply retention to one cluster\'s backups, or delete them all (the cleanup Job)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "list" -d 'List backups in the bucket, newest first'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "download" -d 'Download a backup and check its SHA-256 before anyone restores it'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "restore-guide" -d 'Print a filled-in, numbered restore runbook for one cluster'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "reconcile" -d 'One reconcile pass: every Cluster resource -> its backup CronJob'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "watch" -d 'Run the controller continuously (in-cluster, with leader election)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "crd" -d 'Print the Cluster CustomResourceDefinition as YAML'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "generate-assets" -d 'Regenerate the shell completions and man pages shipped in completions/ and man/'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download restore-guide reconcile watch crd generate-assets help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
