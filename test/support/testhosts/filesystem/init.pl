#!/usr/bin/perl
# PID 1 of one test host, before sshd. Carries out the host's mount plan
# (written by overlay.ts) in this one process, then execs the plan's last
# line (the boot script, which execs sshd). It runs inside
# `ip netns exec NS unshare --mount --pid ... --propagation private`, so every
# mount lands in the host's private mount namespace and vanishes with it.
#
# Plan: one operation a line, fields separated by tabs, "-" for NULL:
#   mkdir PATH MODE          make a directory (octal mode) unless it exists
#   file PATH MODE           make an empty file unless it exists
#   write PATH TEXT          write TEXT (no newline added) to an existing file
#   symlink TARGET PATH      make a symbolic link unless PATH exists
#   whiteout PATH            make an overlayfs whiteout (char device 0:0)
#   opaque PATH              make an overlayfs opaque directory (hides lower layers)
#   mount SRC TARGET FSTYPE FLAGS DATA   mount(2); FLAGS decimal
#   detach PATH              lazily unmount every mount below PATH (deepest first)
#   exec ARG...              replace this process
use strict;
use warnings;
use Config;

# mount(2), mknodat(2), setxattr(2), umount2(2) by number: perl-base has no wrappers.
my %syscalls = (x86_64 => [165, 259, 188, 166], aarch64 => [40, 33, 5, 39]);
my ($arch) = $Config{archname} =~ /^([^-]+)/;
my ($SYS_mount, $SYS_mknodat, $SYS_setxattr, $SYS_umount2) = @{ $syscalls{$arch} || die "init: unsupported architecture $arch\n" };
my $AT_FDCWD = -100;
my $S_IFCHR = 0020000;
my $MNT_DETACH = 2;

# Mount points below a path, deepest first, from this namespace's mountinfo (fields octal-escaped).
sub mounts_below {
  my ($top) = @_;
  open my $info, '<', '/proc/self/mountinfo' or die "init: cannot read mountinfo: $!\n";
  my @points = grep { index($_, "$top/") == 0 } map { (split / /)[4] =~ s/\\([0-7]{3})/chr(oct($1))/ger } <$info>;
  close $info;
  return sort { ($b =~ tr{/}{}) <=> ($a =~ tr{/}{}) } @points;
}

sub field { my ($v) = @_; defined $v && $v ne '-' ? $v : undef }

my $plan = shift @ARGV or die "usage: init.pl PLAN\n";
open my $fh, '<', $plan or die "init: cannot read $plan: $!\n";
my @ops = map { chomp; [split /\t/, $_, -1] } grep { /\S/ } <$fh>;
close $fh;

for my $op (@ops) {
  my ($verb, @a) = @$op;
  if ($verb eq 'mkdir') {
    next if -d $a[0];
    mkdir $a[0] or die "init: mkdir $a[0]: $!\n";
    chmod oct($a[1]), $a[0];
  } elsif ($verb eq 'file') {
    next if -e $a[0];
    open my $f, '>', $a[0] or die "init: create $a[0]: $!\n";
    close $f;
    chmod oct($a[1]), $a[0];
  } elsif ($verb eq 'write') {
    open my $f, '>', $a[0] or die "init: write $a[0]: $!\n";
    print $f (($a[1] // '') =~ s/\\n/\n/gr);
    close $f or die "init: write $a[0]: $!\n";
  } elsif ($verb eq 'symlink') {
    next if -l $a[1] || -e $a[1];
    symlink $a[0], $a[1] or die "init: symlink $a[1]: $!\n";
  } elsif ($verb eq 'whiteout') {
    next if -e $a[0] || -l $a[0];
    syscall($SYS_mknodat, $AT_FDCWD, $a[0], $S_IFCHR, 0) == 0 or die "init: whiteout $a[0]: $!\n";
  } elsif ($verb eq 'opaque') {
    -d $a[0] or mkdir $a[0] or die "init: mkdir $a[0]: $!\n";
    my ($name, $value) = ('trusted.overlay.opaque', 'y');  # syscall() needs writable strings
    syscall($SYS_setxattr, $a[0], $name, $value, 1, 0) == 0 or die "init: opaque $a[0]: $!\n";
  } elsif ($verb eq 'mount') {
    my ($src, $target, $type, $flags, $data) = map { field($_) } @a;
    # perl's syscall passes strings as pointers and numbers as integers: 0 is NULL.
    my $r = syscall($SYS_mount, $src // 0, $target, $type // 0, 0 + ($flags // 0), $data // 0);
    $r == 0 or die "init: mount " . join(' ', map { $_ // '-' } @a) . ": $!\n";
  } elsif ($verb eq 'detach') {
    for my $point (mounts_below($a[0])) {
      my $target = $point;  # syscall() needs writable strings
      syscall($SYS_umount2, $target, $MNT_DETACH) == 0 or die "init: umount $point: $!\n";
    }
  } elsif ($verb eq 'exec') {
    exec { $a[0] } @a;
    die "init: exec $a[0]: $!\n";
  } else {
    die "init: unknown plan operation '$verb'\n";
  }
}
die "init: the plan ended without exec\n";
