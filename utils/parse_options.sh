# Kaldi-style option parsing; source it after the defaults are set:
#     stage=0; nj=4; use_gpu=false
#     . utils/parse_options.sh
#
#   --foo-bar VAL / --foo-bar=VAL  set the already-defined variable foo_bar (else: error);
#                                  a variable whose default is true/false only takes true/false.
#   --config FILE                  read Kaldi conf lines "--key=value" (with # comments) from FILE,
#                                  as if given on the command line at that position; but when the
#                                  script defines its own variable `config` (steps/*.sh do), FILE
#                                  is simply assigned to it: the step hands it to its Python verb,
#                                  which checks the keys.
#   --help / -h                    print $help_message and exit 0.
# Parsing stops at the first argument that does not start with "--"; the rest stay in "$@".
# Errors are one line on stderr and exit status 1; valid options are read off $help_message.

_po_prog=$(basename "$0")

_po_valid_options() {
  # Options the caller's help message documents (lines starting with "  --opt"), for the error.
  echo "${help_message:-}" | grep -oE -- '^[[:space:]]+--[a-z][a-z0-9-]*' | tr -d ' \t' | sort -u | tr '\n' ' '
}

_po_set() {
  # _po_set NAME VALUE WHERE: assign an existing variable, checking booleans.
  local opt=$1 value=$2 where=$3 name
  name=${opt//-/_}
  if ! [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || [ -z "${!name+x}" ]; then
    echo "$_po_prog: unknown option --$opt$where; valid options: $(_po_valid_options)" >&2
    exit 1
  fi
  local old=${!name}
  if [ "$old" = true ] || [ "$old" = false ]; then
    if [ "$value" != true ] && [ "$value" != false ]; then
      echo "$_po_prog: option --$opt$where takes true or false, got '$value'" >&2
      exit 1
    fi
  fi
  printf -v "$name" '%s' "$value"
}

_po_read_config() {
  local file=$1 line n=0 key value
  if [ ! -f "$file" ]; then
    echo "$_po_prog: config file '$file' does not exist" >&2
    exit 1
  fi
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%%#*}
    line=$(echo "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
    [ -z "$line" ] && continue
    if ! [[ $line =~ ^--([a-z][a-z0-9-]*)=(.*)$ ]]; then
      echo "$_po_prog: $file:$n: expected a line '--key=value', got '$line'" >&2
      exit 1
    fi
    key=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    _po_set "$key" "$value" " (in $file:$n)"
  done < "$file"
}

while true; do
  [ -z "${1:-}" ] && break
  case "$1" in
    --help|-h)
      if [ -z "${help_message:-}" ]; then echo "$_po_prog: no help message" >&2; else echo "$help_message"; fi
      exit 0 ;;
    --config=*)
      if [ -n "${config+x}" ]; then config=${1#--config=}; else _po_read_config "${1#--config=}"; fi
      shift ;;
    --config)
      [ $# -lt 2 ] && { echo "$_po_prog: option --config needs a file" >&2; exit 1; }
      if [ -n "${config+x}" ]; then config=$2; else _po_read_config "$2"; fi
      shift 2 ;;
    --*=*)
      _po_opt=${1%%=*}; _po_set "${_po_opt#--}" "${1#*=}" ""; shift ;;
    --?*)
      [ $# -lt 2 ] && { echo "$_po_prog: option $1 needs a value" >&2; exit 1; }
      _po_set "${1#--}" "$2" ""; shift 2 ;;
    *) break ;;
  esac
done
unset _po_opt
true
