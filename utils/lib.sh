# Shared shell helpers, sourced by run.sh, steps/*.sh, local/*.sh and recipes/*.sh.

# log MESSAGE...: time, file:line:function of the caller, message (icefall's format).
log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') ($fname:${BASH_LINENO[0]}:${FUNCNAME[1]:-main}) $*" >&2
}

# die MESSAGE...: one error line, exit 1.
die() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') ($fname:${BASH_LINENO[0]}) ERROR: $*" >&2
  exit 1
}

# check_int NAME VALUE: VALUE must be a non-negative integer.
check_int() {
  [[ $2 =~ ^[0-9]+$ ]] || die "--$1 must be a non-negative integer, got '$2'"
}

# check_dir_exists OPTION DIR LAYOUT: one line naming the expected layout when DIR is missing
# (or is a file).
check_dir_exists() {
  [ ! -e "$2" ] || [ -d "$2" ] || die "$1 '$2' is a file, not a directory; expected $3"
  [ -d "$2" ] || die "$1 '$2' does not exist; expected $3"
}

# check_stage_range STAGE STOP LAST: both within 0..LAST and STAGE <= STOP.
check_stage_range() {
  [ "$1" -le "$3" ] || die "--stage $1 is not a stage of this recipe (0..$3)"
  [ "$2" -le "$3" ] || die "--stop-stage $2 is not a stage of this recipe (0..$3)"
  [ "$1" -le "$2" ] || die "--stage ($1) is after --stop-stage ($2)"
}

# Done markers are checked and written by the asr2emo verbs themselves (pysrc/asr2emo/utils/
# markers.py): each records the settings and inputs of its step, so that a rerun knows whether
# they changed. Shell steps only check their arguments and call one verb.

# not_implemented WHAT: unimplemented stages fail loudly instead of being skipped.
not_implemented() {
  echo "$(date '+%Y-%m-%d %H:%M:%S') ERROR: $* is not implemented yet" >&2
  exit 3
}
