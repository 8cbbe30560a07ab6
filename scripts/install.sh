#!/usr/bin/env bash
# Install dreamd: binary, systemd units, config (kept if present), man pages, completions.
#
#   scripts/install.sh                      # build (release) and install under /usr/local, as root
#   scripts/install.sh --binary PATH        # install an already built binary
#   scripts/install.sh --destdir DIR        # stage into DIR (packaging, CI), as any user
#
# Then: create the service user (default `agent`, the owner of the agent's memory), point
# /etc/dreamd/dreamd.yaml at the memory, `systemctl daemon-reload && systemctl enable --now dreamd`.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
destdir=
binary=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=target/release/dreamd
fi
[ -x "$binary" ] || { echo "install.sh: $binary is not an executable" >&2; exit 1; }

root=${destdir%/}
bindir=$root$prefix/bin
mandir=$root$prefix/share/man/man1
docdir=$root$prefix/share/doc/dreamd
unitdir=$root/etc/systemd/system
confdir=$root/etc/dreamd

install -d "$bindir" "$mandir" "$docdir" "$unitdir" "$confdir" \
  "$root$prefix/share/bash-completion/completions" "$root$prefix/share/zsh/site-functions" \
  "$root$prefix/share/fish/vendor_completions.d"
install -m 0755 "$binary" "$bindir/dreamd"

# Units name /usr/local/bin/dreamd; follow --prefix.
for unit in dreamd.service dreamd@.service; do
  sed "s#/usr/local/bin/dreamd#$prefix/bin/dreamd#g" "systemd/$unit" > "$unitdir/$unit.tmp"
  chmod 0644 "$unitdir/$unit.tmp"
  mv "$unitdir/$unit.tmp" "$unitdir/$unit"
done
install -m 0644 systemd/network-engine.conf systemd/claude-code.conf README.md "$docdir/"

# The reference config, aimed at the unit's default memory location. Never overwrite an
# operator's config.
if [ -e "$confdir/dreamd.yaml" ]; then
  echo "kept existing $confdir/dreamd.yaml"
else
  sed -e 's|^  memory_dir: ./memory |  memory_dir: /var/lib/agent/memory |' \
      -e 's|^  sessions_dir: ./sessions |  sessions_dir: /var/lib/agent/sessions |' \
      config/dreamd.yaml > "$confdir/dreamd.yaml"
  chmod 0644 "$confdir/dreamd.yaml"
fi

"$bindir/dreamd" man --out "$mandir" >/dev/null
"$bindir/dreamd" completions bash > "$root$prefix/share/bash-completion/completions/dreamd"
"$bindir/dreamd" completions zsh > "$root$prefix/share/zsh/site-functions/_dreamd"
"$bindir/dreamd" completions fish > "$root$prefix/share/fish/vendor_completions.d/dreamd.fish"

echo "installed dreamd $("$bindir/dreamd" --version | cut -d' ' -f2) under ${root:-/} (prefix $prefix)"
if [ -z "$root" ]; then
  cat <<NEXT
next:
  1. the service runs as user 'agent' (the owner of the agent's memory): create it, or change
     User=/Group= with 'systemctl edit dreamd'
  2. point /etc/dreamd/dreamd.yaml at the memory (agent.memory_dir) and open that path to the
     service (ReadWritePaths=, see $docdir/claude-code.conf for Claude Code)
  3. dreamd check-config --config /etc/dreamd/dreamd.yaml
  4. systemctl daemon-reload && systemctl enable --now dreamd
NEXT
fi
