#!/usr/bin/env perl
# Run a command, or an array of jobs, on this machine: Kaldi's utils/run.pl convention.
#
#   utils/run.pl [options] [JOB=1:N] <log-file> <command...>
#
# With JOB=1:N the command runs N times, "JOB" replaced by 1..N in the log-file name and in
# the command; at most --max-jobs-run jobs run at once (default: all). Each log gets the
# command, start and end times, the accounting line and the exit status, as Kaldi's does. The
# exit status is 0 when every job succeeded; otherwise one line names how many failed and where
# their logs are. Options Kaldi's queue runners take (--mem, --gpu, --num-threads, --config)
# are accepted and, on the local machine, ignored. Write new code for cmd.sh's $train_cmd /
# $decode_cmd, never for a runner directly: slurm.pl takes the same arguments.
use strict;
use warnings;
use POSIX ":sys_wait_h";
use File::Basename qw(dirname);
use File::Path qw(make_path);

sub fail { print STDERR @_; exit 1; }

my $max_jobs_run = -1;
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $opt = shift @ARGV;
  last if $opt eq "--";
  fail("run.pl: option $opt needs a value\n") unless @ARGV;
  my $val = shift @ARGV;
  if ($opt eq "--max-jobs-run") {
    fail("run.pl: --max-jobs-run must be a positive integer, got '$val'\n") unless $val =~ /^[1-9]\d*$/;
    $max_jobs_run = $val;
  } elsif ($opt !~ /^--(mem|gpu|num-threads|config|time|max-jobs-run)$/) {
    fail("run.pl: unknown option $opt\n");
  }
}
my ($jobname, $start, $end) = ("", 1, 1);
if (@ARGV && $ARGV[0] =~ /^([\w_][\w\d_]*)=(\d+):(\d+)$/) {
  ($jobname, $start, $end) = ($1, $2, $3);
  shift @ARGV;
  fail("run.pl: empty job range $start:$end\n") if $end < $start;
} elsif (@ARGV && $ARGV[0] =~ /^([\w_][\w\d_]*)=(\d+)$/) {
  ($jobname, $start, $end) = ($1, $2, $2);
  shift @ARGV;
}
fail("usage: run.pl [--max-jobs-run N] [JOB=1:N] <log-file> <command...>\n") if @ARGV < 2;
my $logfile = shift @ARGV;
fail("run.pl: the log file '$logfile' must contain $jobname when running a job array\n")
  if $jobname ne "" && $end > $start && $logfile !~ /\b$jobname\b/;

# The words are joined as Kaldi's run.pl joins them: a word with a space or a quote is quoted
# (it stays one argument), every other word is left to the shell ("\|" makes a pipe).
my $cmd = join(" ", map { /[ \t"']/ ? (/'/ ? "\"$_\"" : "'$_'") : $_ } @ARGV);

my %pid_job;
my $failed = 0;
my $running = 0;
sub wait_one {
  my $pid = wait();
  return if $pid < 0;
  my $status = $? >> 8;
  $status = 128 + ($? & 127) if $? & 127;  # killed by a signal
  $failed++ if $status != 0;
  delete $pid_job{$pid};
  $running--;
}
for my $job ($start .. $end) {
  wait_one() while $max_jobs_run > 0 && $running >= $max_jobs_run;
  my ($this_cmd, $this_log) = ($cmd, $logfile);
  if ($jobname ne "") {
    $this_cmd =~ s/\b$jobname\b/$job/g;
    $this_log =~ s/\b$jobname\b/$job/g;
  }
  my $dir = dirname($this_log);
  make_path($dir) unless -d $dir;
  my $pid = fork();
  fail("run.pl: fork failed: $!\n") unless defined $pid;
  if ($pid == 0) {
    open(my $fh, ">", $this_log) or fail("run.pl: cannot write log file $this_log: $!\n");
    print $fh "# $this_cmd\n# Started at " . localtime() . "\n#\n";
    close $fh;
    my $t0 = time();
    my $ret = system("( $this_cmd ) >> '$this_log' 2>&1");
    my $code = $ret == -1 ? 127 : ($ret & 127 ? 128 + ($ret & 127) : $ret >> 8);
    open($fh, ">>", $this_log) or exit(1);
    print $fh "# Accounting: time=" . (time() - $t0) . " threads=1\n";
    print $fh "# Ended (code $code) at " . localtime() . ", elapsed time " . (time() - $t0) . " seconds\n";
    close $fh;
    exit($code > 255 ? 1 : $code);
  }
  $pid_job{$pid} = $job;
  $running++;
}
wait_one() while $running > 0;
if ($failed) {
  my $n = $end - $start + 1;
  if ($n > 1) {
    print STDERR "run.pl: $failed / $n failed, log is in $logfile\n";
  } else {
    print STDERR "run.pl: job failed, log is in $logfile\n";
  }
  exit 1;
}
exit 0;
