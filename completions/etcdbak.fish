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
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "verify" -d 'Prove a backup restorable: its SHA-256, etcd\'s trailer, the whole bbolt database and its revision'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "restore-guide" -d 'Print a filled-in, numbered restore runbook for one cluster'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "follow" -d 'Follow one cluster\'s changes into segments beside its full backups (continuous backup)'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "replay" -d 'Bring a restored cluster forward to a revision or a moment from its segments'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "reconcile" -d 'One reconcile pass: every Cluster resource -> its backup CronJob'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "watch" -d 'Run the controller continuously (in-cluster, with leader election)'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "crd" -d 'Print the Cluster CustomResourceDefinition as YAML'
complete -c etcdbak -n "__fish_etcdbak_needs_command" -f -a "s3-exporter" -d 'Serve S3 backup metrics (s3_exporter-compatible) for every cluster\'s backup prefix'
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
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l destination-name -d 'The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first destination, which --destination picks by default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l add-destination -d 'Another destination: `store` sends every backup there too, from the same read. Comma-separated key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak), path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate destinations with \';\' in the variable. See docs/DESTINATIONS.md' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l dir -d 'Directory holding snapshot.db and snapshot.json, as `etcdbak snapshot` leaves them' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l cluster -d 'Cluster name (a DNS-1123 label) that names the backup prefix `<prefix>/<cluster>/`. Defaults to the cluster recorded in snapshot.json; if both are set they must agree' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep -d 'Keep the newest N backups (by time and revision) [default: 20]. 0 is allowed only when another --keep-* rule keeps something' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep-hourly -d 'Also keep the newest backup of each of the N most recent hours that have one (UTC)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep-daily -d 'Also keep the newest backup of each of the N most recent days that have one (UTC)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep-weekly -d 'Also keep the newest backup of each of the N most recent ISO weeks that have one' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep-monthly -d 'Also keep the newest backup of each of the N most recent months that have one' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep-within -d 'Also keep every backup taken within this span of the newest one: 7d, 36h, 1y2m3d4h (m is months, as restic takes it), or a humantime span of whole hours such as 2weeks' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l keep-min -d 'Never leave fewer than N backups, whatever the rules say (at least one always stays)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l part-size -d 'Size of each uploaded part (e.g. 8MiB, 16MiB; at least 5MiB). Memory use is about part size times --upload-concurrency, whatever the snapshot\'s size' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l upload-concurrency -d 'How many parts are uploaded at once' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l stale-upload-age -d 'Abort this cluster\'s unfinished multipart uploads older than this (left by killed runs). Keep it well above the longest upload so a concurrent run\'s live upload is never aborted (1m to 30d)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l compress -d 'How to compress the snapshot in the bucket: none, zstd (level 1) or zstd:LEVEL (1-19). The file in --dir stays exactly as `etcdbak snapshot` wrote it' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l encrypt-to -d 'Encrypt the backup with age to this X25519 recipient (an `age1…` public key). Repeat it or give a comma-separated list for several recipients (key rotation: any one identity decrypts)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l encrypt-to-file -d 'Encrypt to the recipients in this file (`age -R` format: one `age1…` per line, # comments), e.g. a mounted Secret or ConfigMap. Combines with --encrypt-to' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l object-lock-mode -d 'Write each object (backup, segment) with S3 Object Lock (WORM) in this mode, so not even these credentials can delete it before --object-lock-retain has passed: `governance` (lifted only with s3:BypassGovernanceRetention) or `compliance` (by nobody). The bucket must have Object Lock enabled, else the run fails naming it; every PUT then carries Content-MD5. See docs/OBJECT-LOCK.md' -r -f -a "governance\t'Locked; a principal with s3:BypassGovernanceRetention can still lift it'
compliance\t'Locked for everyone, the bucket\'s root account included, until the date'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l object-lock-retain -d 'How long each object stays locked from its upload: days, hours, minutes, seconds in that order (30d, 1d12h). Retention and prune keep a backup (or segment) until its lock expires, then delete every version' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand store" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l destination-name -d 'The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first destination, which --destination picks by default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l add-destination -d 'Another destination: `store` sends every backup there too, from the same read. Comma-separated key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak), path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate destinations with \';\' in the variable. See docs/DESTINATIONS.md' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l destination -d 'The destination to read: the first (--destination-name) unless another is named' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l cluster -d 'The cluster whose backups to prune' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep -d 'Keep the newest N backups (by time and revision) [default: 20]. 0 is allowed only when another --keep-* rule keeps something' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep-hourly -d 'Also keep the newest backup of each of the N most recent hours that have one (UTC)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep-daily -d 'Also keep the newest backup of each of the N most recent days that have one (UTC)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep-weekly -d 'Also keep the newest backup of each of the N most recent ISO weeks that have one' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep-monthly -d 'Also keep the newest backup of each of the N most recent months that have one' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep-within -d 'Also keep every backup taken within this span of the newest one: 7d, 36h, 1y2m3d4h (m is months, as restic takes it), or a humantime span of whole hours such as 2weeks' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l keep-min -d 'Never leave fewer than N backups, whatever the rules say (at least one always stays)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l stale-upload-age -d 'Also abort the cluster\'s unfinished multipart uploads older than this (with --all: every one); 1m to 30d' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l all -d 'Delete every backup of the cluster and abort its unfinished uploads (the cleanup Job after a Cluster is deleted), in every destination (--add-destination) unless --destination names one; a destination that fails does not stop the others, and the run then fails naming it. Files that do not follow etcdbak\'s naming scheme are never touched. Refused together with any --keep* flag or ETCDBAK_KEEP* env var (the controller sets none on cleanup). Whatever an S3 Object Lock still holds stays and is printed as kept, with its date; on a versioned bucket every version of what goes is deleted'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -l dry-run -d 'Print every backup with what retention would do and why it stays ("locked until …" for one an S3 Object Lock holds); delete nothing'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand prune" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l destination-name -d 'The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first destination, which --destination picks by default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l add-destination -d 'Another destination: `store` sends every backup there too, from the same read. Comma-separated key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak), path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate destinations with \';\' in the variable. See docs/DESTINATIONS.md' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l destination -d 'The destination to read: the first (--destination-name) unless another is named' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l cluster -d 'Only this cluster\'s backups (default: every cluster under --prefix)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
json\t'JSON for scripts; its field names are stable (listed in the command\'s --help)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand list" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l destination-name -d 'The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first destination, which --destination picks by default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l add-destination -d 'Another destination: `store` sends every backup there too, from the same read. Comma-separated key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak), path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate destinations with \';\' in the variable. See docs/DESTINATIONS.md' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l destination -d 'The destination to read: the first (--destination-name) unless another is named' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l cluster -d 'The cluster whose newest backup to use (with --key: the cluster the key\'s file name belongs to)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l key -d 'A specific backup: the full key as `etcdbak list` shows it, or just its file name with --cluster' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -s o -l output -d 'Where to write the snapshot (default: the object\'s file name in the current directory). It is written to PATH.part first and renamed only after its checksums match' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l identity -d 'age identity file (`age-keygen` output, AGE-SECRET-KEY-1… lines) to decrypt encrypted (`.age`) backups and segments; one of its keys must be a recipient of what is read' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand download" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l destination-name -d 'The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first destination, which --destination picks by default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l add-destination -d 'Another destination: `store` sends every backup there too, from the same read. Comma-separated key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak), path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate destinations with \';\' in the variable. See docs/DESTINATIONS.md' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l destination -d 'The destination to read: the first (--destination-name) unless another is named' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l cluster -d 'The cluster whose newest backup to use (with --key: the cluster the key\'s file name belongs to)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l key -d 'A specific backup: the full key as `etcdbak list` shows it, or just its file name with --cluster' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l dir -d 'Where the backup is downloaded to while it is checked (removed afterwards); it needs room for one backup. Default: the system\'s temporary directory' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
json\t'JSON for scripts; its field names are stable (listed in the command\'s --help)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l identity -d 'age identity file (`age-keygen` output, AGE-SECRET-KEY-1… lines) to decrypt encrypted (`.age`) backups and segments; one of its keys must be a recipient of what is read' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -l with-etcdutl -d 'After the Rust check passes, also run etcd\'s own `etcdutl snapshot status` and `snapshot restore` (into a scratch data dir beside the download, removed afterwards) and require etcdutl\'s revision to be the Rust check\'s. etcdutl must be on PATH'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand verify" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l cluster -d 'The Cluster (its backups are `<prefix>/<cluster>/` in the bucket)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l snapshot -d 'The backup to restore: its key as `etcdbak list` shows it, or just its file name. Default: the newest verified backup (on a terminal you pick from the list)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l to -d 'Bring the cluster to this moment: every change seen at or before it (RFC 3339, e.g. 2026-12-02T14:03:59Z)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l to-revision -d 'Bring the cluster to this etcd revision: every change up to and including it' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l identity -d 'The age identity (private key) file to decrypt an encrypted backup with, as a path where you run the guide\'s commands. The guide only prints it: it never reads the file' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -s o -l output -d 'Output format' -r -f -a "text\t'Numbered steps for a terminal'
markdown\t'The same steps as Markdown, to paste into an incident document'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l destination-name -d 'The name of the destination the S3 flags (--bucket, --s3-endpoint, ...) describe: the first destination, which --destination picks by default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l add-destination -d 'Another destination: `store` sends every backup there too, from the same read. Comma-separated key=value pairs: name and bucket (required), endpoint, region (us-east-1), prefix (etcdbak), path-style (true), credentials (`chain`: the AWS_* chain, the default; `env:PREFIX`: the same chain over PREFIXAWS_* variables), object-lock-mode and object-lock-retain. Repeat the flag, or separate destinations with \';\' in the variable. See docs/DESTINATIONS.md' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l destination -d 'The destination to read: the first (--destination-name) unless another is named' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l namespace -d 'Namespace of the etcd StatefulSet. Default: the Cluster\'s spec.namespace, else `default`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l statefulset -d 'The etcd StatefulSet. Default: the Cluster\'s service name, else the cluster name' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l service -d 'The headless Service giving members their DNS names. Default: the StatefulSet\'s serviceName, else the StatefulSet\'s name' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l replicas -d 'Number of members, 1 to 15. Default: the StatefulSet\'s replicas, else 3' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l member -d 'A member as NAME=PEER_URL; repeat for each member. Default: `<sts>-<i>` with peer URL `https://<sts>-<i>.<service>.<ns>.svc:2380`, as an etcd StatefulSet names them' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l endpoints -d 'Client URLs for the health checks, comma-separated. Default: `https://<sts>-<i>.<service>.<ns>.svc:2379`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l cacert -d 'CA certificate for etcdctl, as a path where the operator runs it' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l cert -d 'Client certificate for etcdctl' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l key -d 'Client key for etcdctl' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l data-dir -d 'etcd\'s --data-dir inside the etcd container' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l volume-mount-path -d 'Where the member\'s PVC is mounted in the etcd container. Default: the data dir itself' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l volume-claim -d 'The StatefulSet\'s volumeClaimTemplate name (member i\'s PVC is `<claim>-<sts>-<i>`). Default: the StatefulSet\'s first claim template, else `data`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l helper-image -d 'Image for the throwaway pod that writes into each PVC (needs sh and tar)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l owner -d 'UID:GID to own the restored files, when etcd does not run as root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l cronjob -d 'The backup CronJob as NAMESPACE/NAME. Default: the Cluster\'s status.cronJobName, else `etcdbak/etcdbak-<cluster>`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l apiserver -d 'The kube-apiserver Deployment that uses this etcd, as NAMESPACE/NAME: a restore to a point (--to) keeps it stopped until the replay is done. Default: a placeholder to fill in' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l token -d 'The new cluster token. Default: `<cluster>-restore-<UTC time>`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l workdir -d 'Local directory for the download and the restored data dirs. Default: `restore-<cluster>`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l bump-revision -d 'Raise the restored revision by this much and mark it compacted, so watchers re-list; 0 disables' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l insecure -d 'The cluster does not use TLS: plain http URLs and no certificate flags'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -l no-kube -d 'Do not read the Cluster and StatefulSet from the apiserver even when a kubeconfig is present'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand restore-guide" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l endpoints -d 'etcd client URLs, comma-separated or repeated. Every one is asked for its status and the snapshot comes from one healthy member. A URL without a scheme gets https:// when --cacert is set, else http://' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l cacert -d 'CA certificate (PEM) that signed the etcd server certificates. Required for https:// endpoints' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l cert -d 'Client certificate (PEM) for etcd\'s client-cert-auth. Needs --key' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l key -d 'Private key (PEM) of --cert. Its contents are never logged' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l dial-timeout -d 'How long each endpoint gets to connect and answer its status (e.g. 5s, 1m)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l timeout -d 'Limit for the whole run, streaming included. Generous on purpose: an 8 GiB database over a slow link takes many minutes, and a too-short limit only produces failed backups' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l dir -d 'Directory to write snapshot.db and snapshot.json into (created if missing)' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l cluster -d 'Name of the etcd cluster, recorded in snapshot.json (the store step files backups under it). Falls back to the CLUSTER environment variable (the store-container contract) when ETCDBAK_CLUSTER is unset' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l object-lock-mode -d 'Write each object (backup, segment) with S3 Object Lock (WORM) in this mode, so not even these credentials can delete it before --object-lock-retain has passed: `governance` (lifted only with s3:BypassGovernanceRetention) or `compliance` (by nobody). The bucket must have Object Lock enabled, else the run fails naming it; every PUT then carries Content-MD5. See docs/OBJECT-LOCK.md' -r -f -a "governance\t'Locked; a principal with s3:BypassGovernanceRetention can still lift it'
compliance\t'Locked for everyone, the bucket\'s root account included, until the date'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l object-lock-retain -d 'How long each object stays locked from its upload: days, hours, minutes, seconds in that order (30d, 1d12h). Retention and prune keep a backup (or segment) until its lock expires, then delete every version' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l interval -d 'Close the open segment this long after its first change (e.g. 20s, 1m): the most a lost follower loses' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l max-segment-size -d 'Close the open segment once its changes reach this size (e.g. 4MiB), whatever the interval' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l compress -d 'How segments (and the full backups the follower takes) are compressed: none, zstd or zstd:LEVEL' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l encrypt-to -d 'Encrypt segments with age to this X25519 recipient (`age1…`); repeat or comma-separate' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l encrypt-to-file -d 'Encrypt to the recipients in this file (`age -R` format)' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l lease -d 'Renew this Lease (coordination.k8s.io) with how far the stored chain reaches, for the controller\'s ContinuousBackup condition. Uses the in-cluster service account, or KUBECONFIG' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l lease-namespace -d 'The Lease\'s namespace' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand follow" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l cluster -d 'The cluster whose backups and segments to read' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l to -d 'Bring the cluster to this moment: every change seen at or before it (RFC 3339, e.g. 2026-12-02T14:03:59Z)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l to-revision -d 'Bring the cluster to this etcd revision: every change up to and including it' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l endpoints -d 'etcd client URLs of the restored members, comma-separated' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l cacert -d 'CA certificate (PEM) that signed the etcd server certificates. Required for https:// endpoints' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l cert -d 'Client certificate (PEM) for etcd\'s client-cert-auth. Needs --key' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l key -d 'Private key (PEM) of --cert. Its contents are never logged' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l identity -d 'age identity file (`age-keygen` output, AGE-SECRET-KEY-1… lines) to decrypt encrypted (`.age`) backups and segments; one of its keys must be a recipient of what is read' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -l check -d 'Read and check the chain up to the point, apply nothing'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand replay" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l config -d 'The controller config file (defaults, job namespace, image, store and cleanup templates)' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l concurrency -d 'How many Clusters are reconciled at once. Each reconcile holds an apiserver connection and its buffers, so an unbounded number (a thousand Clusters at start-up) costs memory without converging faster: the apiserver is the bottleneck. 1 to 1024' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -l dry-run -d 'Print every object that would be applied, as YAML, and change nothing'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand reconcile" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l config -d 'The controller config file; it is re-read when its content changes (a ConfigMap update), and every Cluster is reconciled again' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l metrics-addr -d 'Where /metrics, /healthz and /readyz are served' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l concurrency -d 'How many Clusters are reconciled at once. Each reconcile holds an apiserver connection and its buffers, so an unbounded number (a thousand Clusters at start-up) costs memory without converging faster: the apiserver is the bottleneck. 1 to 1024' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l lease-name -d 'Name of the coordination.k8s.io Lease the replicas elect a leader with (a DNS-1123 subdomain)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l lease-namespace -d 'Namespace of the Lease. Defaults to POD_NAMESPACE, else the config\'s job namespace' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l lease-duration -d 'How long a leader\'s Lease holds without renewal before a standby takes over. It renews every third of this and steps down when it could not renew for two thirds. 2s to 10m' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l lease-holder -d 'This replica\'s name in the Lease (its holderIdentity). Defaults to POD_NAME, else the hostname' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l resync -d 'How often every Cluster is reconciled again without any change (a no-op when all is in place). 1s to 24h' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand watch" -l config-poll -d 'How often the config file is checked for changes. 1s to 1h' -r
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
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l listen -d 'Address to serve `/metrics`, `/probe` and `/healthz` on' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l s3-endpoint -d 'S3 endpoint URL, e.g. http://minio.backup.svc:9000 or https://s3.eu-west-1.amazonaws.com. Leave unset for AWS S3, whose endpoint follows from --region' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l region -d 'Region to sign requests for. MinIO and most S3-compatible stores accept the default' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l bucket -d 'Bucket that holds the backups. It must exist: etcdbak never creates buckets' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l prefix -d 'Key prefix under which each cluster gets `<prefix>/<cluster>/`. Empty means the bucket root' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l path-style -d 'Address the bucket in the path (http://host/bucket/key), as MinIO and most S3-compatible stores need. `--path-style=false` for virtual-hosted style (http://bucket.host/key)' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l content-md5 -d 'Send a Content-MD5 header with every uploaded part, so the store rejects a part damaged in transit. Some S3-compatible stores refuse or mishandle it: `--content-md5=false` there (each part\'s returned ETag is still compared with its MD5 when the store returns one). `store --object-lock-mode` sends it regardless: S3 requires it on locked writes' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l request-timeout -d 'Give up on a single S3 request after this long (e.g. 10m). Unset means no limit: a part upload on a slow link legitimately takes minutes, and short limits broke uploads of 250 MB+ snapshots elsewhere' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l connect-timeout -d 'Give up connecting to the S3 endpoint after this long, so an unreachable endpoint fails fast with one clear line instead of waiting for the operating system\'s TCP timeout' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l stall-timeout -d 'Give up on a request once no bytes have been sent or received for this long. Not a limit on a whole transfer: a part on a slow link takes as long as it needs while bytes flow' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l sse -d 'Server-side encryption of the objects etcdbak writes: `s3` (SSE-S3, the store\'s keys) or `kms` (SSE-KMS with the bucket\'s default KMS key). Independent of, and weaker than, --encrypt-to' -r -f -a "s3\t'SSE-S3 (AES256 with the store\'s keys)'
kms\t'SSE-KMS (aws:kms)'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l list-timeout -d 'Give up on one bucket listing after this long (it is then reported as `s3_list_success 0`)' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l probe-allow -d 'What `/probe?bucket=B&prefix=P` may list, as BUCKET (all of it) or BUCKET/PREFIX (that prefix and below); repeat or comma-separate. Default: --bucket with --prefix, what /metrics watches. Any other bucket or prefix is refused with 403: the listing runs with the exporter\'s credentials' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l probe-cache -d 'How long a `/probe` result is reused for the same bucket and prefix: each probe is a full listing, so a caller probing in a loop costs one listing per this period' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l read-metadata -d 'Also HEAD each cluster\'s newest backup (once per backup, a bounded number per scrape) for the snapshot\'s size before compression and encryption: `s3_last_modified_object_plaintext_size_bytes`, the dashboard\'s compression ratio. A HEAD needs GetObject on the prefix, which lets these keys download the backups too: off by default, so list permission stays enough' -r -f -a "true\t''
false\t''"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand s3-exporter" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -l out -d 'The repository root to write completions/ and man/ into' -r -F
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -l log-level -d 'Log filter: error, warn, info, debug, trace, or a tracing directive such as `etcdbak=debug`' -r
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -l log-format -d 'Log line format' -r -f -a "plain\t'`key=value` lines, one event per line'
json\t'One JSON object per line, for log collectors'"
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand generate-assets" -s V -l version -d 'Print version'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "snapshot" -d 'Take a verified snapshot of an etcd cluster into a directory (the Job\'s init container)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "store" -d 'Upload a snapshot to S3, verify it, then apply retention (the default store container)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "prune" -d 'Apply retention to one cluster\'s backups, or delete them all (the cleanup Job)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "list" -d 'List backups in the bucket, newest first'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "download" -d 'Download a backup and check its SHA-256 before anyone restores it'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "verify" -d 'Prove a backup restorable: its SHA-256, etcd\'s trailer, the whole bbolt database and its revision'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "restore-guide" -d 'Print a filled-in, numbered restore runbook for one cluster'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "follow" -d 'Follow one cluster\'s changes into segments beside its full backups (continuous backup)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "replay" -d 'Bring a restored cluster forward to a revision or a moment from its segments'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "reconcile" -d 'One reconcile pass: every Cluster resource -> its backup CronJob'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "watch" -d 'Run the controller continuously (in-cluster, with leader election)'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "crd" -d 'Print the Cluster CustomResourceDefinition as YAML'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "s3-exporter" -d 'Serve S3 backup metrics (s3_exporter-compatible) for every cluster\'s backup prefix'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "generate-assets" -d 'Regenerate the shell completions and man pages shipped in completions/ and man/'
complete -c etcdbak -n "__fish_etcdbak_using_subcommand help; and not __fish_seen_subcommand_from snapshot store prune list download verify restore-guide follow replay reconcile watch crd s3-exporter generate-assets help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
