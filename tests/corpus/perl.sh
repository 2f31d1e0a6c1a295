#!/usr/bin/env bash
# tests/corpus/perl.sh - perl, hash-heavy: a 100,000-key hash of records
# built, deleted from, iterated, inverted, sorted; a million increments of
# a small hash; a regex pass over a joined string; fork + pipe with the
# child walking the inherited hash.  Prints sums and digests.  Sized so
# that its peak (about 110 MiB) is well over the 64M limit: the limited run
# swaps without thrashing for minutes.
# needs: perl
set -euo pipefail
exec perl -e '
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
my %h;
for my $i (1 .. 100000) {
    $h{"k$i"} = { n => $i, s => "v" x ($i % 17), l => [ $i, $i * 2 ] };
}
delete $h{"k$_"} for grep { $_ % 5 == 0 } 1 .. 100000;
my $sum = 0;
$sum += $h{$_}{n} + $h{$_}{l}[1] for keys %h;
print "hash: ", scalar(keys %h), " $sum\n";
my %count;
$count{ ($_ * 7919) % 1009 }++ for 1 .. 1000000;
my @top = (sort { $count{$b} <=> $count{$a} || $a <=> $b } keys %count)[0 .. 2];
print "counts: @top $count{$top[0]}\n";
my $text = join ",", map { "$_=$h{$_}{n}" } sort keys %h;
print "md5: ", md5_hex($text), " ", length($text), "\n";
my %inverse = reverse map { $_ => $h{$_}{n} } keys %h;
print "inverse: ", scalar(keys %inverse), " $inverse{4}\n";
my $matches = () = $text =~ /k(\d*7)=\1/g;
print "regex: $matches\n";
my %big;
$big{$_ x 3} = [ map { $_ * 2 } 1 .. 5 ] for 1 .. 60000;
my $s2 = 0;
$s2 += $_->[4] for values %big;
undef %big;
print "big: $s2\n";
pipe(my $r, my $w) or die;
my $pid = fork() // die;
if ($pid == 0) {
    close $r;
    my $t = 0; $t += $h{$_}{n} for keys %h;
    print $w "child $t\n";
    exit 0;
}
close $w;
print scalar <$r>;
waitpid($pid, 0);
print "child exit ", $? >> 8, "\n";
'
