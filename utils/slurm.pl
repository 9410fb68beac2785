#!/usr/bin/env perl
# Run a command, or an array of jobs, on a Slurm cluster: Kaldi's utils/slurm.pl convention,
# with the same arguments as utils/run.pl:
#
#   utils/slurm.pl [options] [JOB=1:N] <log-file> <command...>
#
# The jobs are one sbatch job array (the script is written to <log-dir>/q/), run from the
# current directory with the current environment; slurm.pl waits for all of them and exits 0
# when every job succeeded, else with one line naming how many failed and where their logs are.
# Options: --mem 4G (sbatch --mem), --num-threads N (--cpus-per-task), --gpu N (--gres=gpu:N),
# --time T (--time), --max-jobs-run N (at most N tasks of the array at once), --config FILE
# (ignored here: pass cluster-specific sbatch options in the environment variable
# SLURM_PL_OPTS, e.g. "--partition=cpu --account=speech").
use strict;
use warnings;
use File::Basename qw(dirname basename);
use File::Path qw(make_path);
use Cwd qw(getcwd);

sub fail { print STDERR @_; exit 1; }

my %opt = (mem => "", "num-threads" => "", gpu => "", time => "", "max-jobs-run" => "");
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $o = shift @ARGV;
  last if $o eq "--";
  fail("slurm.pl: option $o needs a value\n") unless @ARGV;
  my $v = shift @ARGV;
  $o =~ s/^--//;
  next if $o eq "config";
  fail("slurm.pl: unknown option --$o\n") unless exists $opt{$o};
  $opt{$o} = $v;
}
my ($jobname, $start, $end) = ("", 1, 1);
if (@ARGV && $ARGV[0] =~ /^([\w_][\w\d_]*)=(\d+):(\d+)$/) {
  ($jobname, $start, $end) = ($1, $2, $3);
  shift @ARGV;
  fail("slurm.pl: empty job range $start:$end\n") if $end < $start;
} elsif (@ARGV && $ARGV[0] =~ /^([\w_][\w\d_]*)=(\d+)$/) {
  ($jobname, $start, $end) = ($1, $2, $2);
  shift @ARGV;
}
fail("usage: slurm.pl [options] [JOB=1:N] <log-file> <command...>\n") if @ARGV < 2;
my $logfile = shift @ARGV;
fail("slurm.pl: the log file '$logfile' must contain $jobname when running a job array\n")
  if $jobname ne "" && $end > $start && $logfile !~ /\b$jobname\b/;
my $cmd = join(" ", map { /[ \t"']/ ? (/'/ ? "\"$_\"" : "'$_'") : $_ } @ARGV);

my $logdir = dirname($logfile);
my $qdir = "$logdir/q";
make_path($qdir) unless -d $qdir;
(my $base = basename($logfile)) =~ s/\.log$//;
$base =~ s/\b$jobname\b/x/g if $jobname ne "";
my $script = "$qdir/$base.sh";
my $task = '${SLURM_ARRAY_TASK_ID}';
my ($task_cmd, $task_log) = ($cmd, $logfile);
if ($jobname ne "") {
  $task_cmd =~ s/\b$jobname\b/$task/g;
  $task_log =~ s/\b$jobname\b/$task/g;
}
my $done = "$qdir/done.$base.$task";
my $cwd = getcwd();
open(my $fh, ">", $script) or fail("slurm.pl: cannot write $script: $!\n");
print $fh <<"EOF";
#!/usr/bin/env bash
cd '$cwd'
log="$task_log"
mkdir -p "\$(dirname "\$log")"
echo "# $task_cmd" > "\$log"
echo "# Started at \$(date) on \$(hostname)" >> "\$log"
echo "#" >> "\$log"
t0=\$(date +%s)
( $task_cmd ) >> "\$log" 2>&1
ret=\$?
echo "# Accounting: time=\$((\$(date +%s) - t0)) threads=1" >> "\$log"
echo "# Ended (code \$ret) at \$(date), elapsed time \$((\$(date +%s) - t0)) seconds" >> "\$log"
echo \$ret > "$done"
exit \$ret
EOF
close $fh;
chmod 0755, $script;
for my $j ($start .. $end) {  # results of an earlier submission must not count
  my $d = $done =~ s/\Q$task\E/$j/r;
  unlink $d;
}

my @sbatch = ("sbatch", "--parsable", "--export=ALL", "--job-name=$base",
              "--output=$qdir/$base-%A_%a.out", "--array=$start-$end" .
              ($opt{"max-jobs-run"} ne "" ? "%" . $opt{"max-jobs-run"} : ""));
push @sbatch, "--mem=$opt{mem}" if $opt{mem} ne "";
push @sbatch, "--cpus-per-task=$opt{'num-threads'}" if $opt{"num-threads"} ne "";
push @sbatch, "--gres=gpu:$opt{gpu}" if $opt{gpu} ne "" && $opt{gpu} ne "0";
push @sbatch, "--time=$opt{time}" if $opt{time} ne "";
push @sbatch, split(" ", $ENV{SLURM_PL_OPTS}) if $ENV{SLURM_PL_OPTS};
push @sbatch, $script;
my $out = `@sbatch 2>&1`;
fail("slurm.pl: sbatch failed: $out") if $? != 0;
my ($jobid) = $out =~ /^(\d+)/m;
fail("slurm.pl: sbatch gave no job id: $out") unless defined $jobid;

# Wait for every task's done file; a task that left the queue without one failed to run.
my %code;
my $gone_since = 0;
while (keys(%code) < $end - $start + 1) {
  for my $j ($start .. $end) {
    next if exists $code{$j};
    my $d = $done =~ s/\Q$task\E/$j/r;
    if (-f $d) {
      open(my $dh, "<", $d) or next;
      my $c = <$dh>;
      close $dh;
      $code{$j} = defined $c && $c =~ /^(\d+)/ ? $1 : 1;
    }
  }
  last if keys(%code) == $end - $start + 1;
  my $queued = `squeue -h -j $jobid -o %i 2>/dev/null`;
  if ($queued !~ /\d/) {  # nothing of the array left in the queue: give the files 30 s
    $gone_since ||= time();
    if (time() - $gone_since > 30) {
      for my $j ($start .. $end) { $code{$j} = 1 unless exists $code{$j}; }
      last;
    }
  }
  sleep 1;
}
my $failed = grep { $code{$_} != 0 } keys %code;
if ($failed) {
  my $n = $end - $start + 1;
  print STDERR $n > 1 ? "slurm.pl: $failed / $n failed, log is in $logfile\n"
                      : "slurm.pl: job failed, log is in $logfile\n";
  exit 1;
}
exit 0;
