#!/usr/bin/env bash
# SSH local forwards for the remote-host setup: the stack runs on a cloud VM, the browser and
# the editor on your laptop. The stack binds its ports to the VM's 127.0.0.1 only, so nothing
# is exposed to the internet; this tunnels them to your laptop's loopback instead.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/port-forward.sh [options] [user@]host [-- extra ssh options]

Forward ports of this machine's 127.0.0.1 to the remote host's 127.0.0.1:
  Langfuse web   3000 -> 3000   then open http://localhost:3000
  LiteLLM proxy  4000 -> 4000   Cline's base URL: http://localhost:4000
  code-server    8080 -> 8080   a browser VS Code on the VM (skip with --no-code-server)

Options (LOCAL:REMOTE, or one PORT for both; remote ports are the VM's .env
LANGFUSE_WEB_PORT and LITELLM_PORT if you changed them there):
  --langfuse PORT[:REMOTE]     default 3000:3000
  --proxy PORT[:REMOTE]        default 4000:4000
  --code-server PORT[:REMOTE]  default 8080:8080
  --no-code-server             do not forward code-server
  -i IDENTITY_FILE             ssh key, passed to ssh
  -p SSH_PORT                  ssh port, passed to ssh
  --print                      print the ssh command instead of running it
  -h, --help                   this text

The tunnel stays in the foreground until Ctrl-C. Examples:
  scripts/port-forward.sh ubuntu@ec2-1-2-3-4.compute.amazonaws.com
  scripts/port-forward.sh --proxy 14000:4000 --no-code-server -i ~/.ssh/vm.pem ubuntu@10.0.0.5
USAGE
}

pair() {  # "LOCAL[:REMOTE]" -> "LOCAL:REMOTE"; refuses anything that is not a port
  local local_port="${1%%:*}" remote_port="${1#*:}"
  for port in "$local_port" "$remote_port"; do
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
      echo "port-forward.sh: '$1' is not PORT or LOCAL:REMOTE (1-65535)" >&2
      exit 2
    fi
  done
  echo "$local_port:$remote_port"
}

langfuse="3000:3000"
proxy="4000:4000"
code_server="8080:8080"
ssh_options=()
print_only=false
target=""

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --langfuse) langfuse="$(pair "${2:?--langfuse needs a port}")"; shift 2 ;;
    --proxy) proxy="$(pair "${2:?--proxy needs a port}")"; shift 2 ;;
    --code-server) code_server="$(pair "${2:?--code-server needs a port}")"; shift 2 ;;
    --no-code-server) code_server=""; shift ;;
    -i|-p) ssh_options+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --print) print_only=true; shift ;;
    --) shift; ssh_options+=("$@"); break ;;
    -*) echo "port-forward.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
      if [ -n "$target" ]; then
        echo "port-forward.sh: one host only, got '$target' and '$1'" >&2
        exit 2
      fi
      target="$1"; shift ;;
  esac
done

if [ -z "$target" ]; then
  usage >&2
  exit 2
fi

forwards=()
for spec in "$langfuse" "$proxy" ${code_server:+"$code_server"}; do
  forwards+=(-L "127.0.0.1:${spec%%:*}:127.0.0.1:${spec#*:}")
done
# -N: no remote command; ExitOnForwardFailure: fail at once when a local port is taken.
command=(ssh -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=30 "${forwards[@]}" "${ssh_options[@]}" "$target")

if $print_only; then
  printf '%q ' "${command[@]}"
  echo
  exit 0
fi
echo "Forwarding Langfuse http://localhost:${langfuse%%:*}, proxy http://localhost:${proxy%%:*}${code_server:+, code-server http://localhost:${code_server%%:*}} (Ctrl-C stops)" >&2
exec "${command[@]}"
