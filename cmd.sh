# Job runners, as in Kaldi recipes (sourced by run.sh): utils/run.pl runs the jobs of a step on
# this machine; on a Slurm cluster use utils/slurm.pl, which takes the same arguments, e.g.
#   export train_cmd="utils/slurm.pl --mem 4G"
#   export decode_cmd="utils/slurm.pl --mem 8G"
# (cluster-specific sbatch options: SLURM_PL_OPTS="--partition=cpu --account=...").
# Set to the empty string (train_cmd= ./run.sh ...) to run the jobs as local Python processes
# without a runner; the outputs are the same either way.
export train_cmd=${train_cmd-utils/run.pl}
export decode_cmd=${decode_cmd-utils/run.pl}
