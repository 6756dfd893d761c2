#!/bin/bash
# critest's benchmark, peapod beside containerd: the median of every operation over all rounds.
#   bench/critest-report.sh DIR
# DIR holds what compare.sh keeps of each `run.sh benchmark`: NAME-rN/ (critest's
# -benchmarking-output-dir: pod, container, image lifecycle and image listing data) and
# NAME-rN.json (ginkgo's report, with the start-a-container-from-scratch measurement), NAME being
# peapod or containerd. Prints the table (ms; ratio = peapod / containerd) and writes
# DIR/critest-bench.json.
set -euo pipefail
shopt -s nullglob
dir=${1:?usage: bench/critest-report.sh DIR}
files=(pod_benchmark_data.json container_benchmark_data.json image_lifecycle_benchmark_data.json
  image_listing_benchmark_data.json)

# {"pod_benchmark_data.json": [round 1's data, round 2's, ...], ..., "start": [ns, ...]}
collect() {  # NAME
  local f runs
  for f in "${files[@]}"; do
    runs=("$dir/$1"-r*/"$f")
    [ ${#runs[@]} -gt 0 ] &&
      jq -s --arg f "$f" '{($f): [.[] | {operationsNames,
        datapoints: [.datapoints[] | {operationsDurationsNs}]}]}' "${runs[@]}"
  done
  runs=("$dir/$1"-r*.json)
  [ ${#runs[@]} -gt 0 ] && jq -s '{start: [.[][] | .SpecReports[] | .ReportEntries // [] | .[]
      | .Value.AsJSON | fromjson | .Measurements[] | select(.Name == "create PodSandbox and container")
      | .Durations[]]}' "${runs[@]}"
  true
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
collect peapod | jq -s 'add // {}' >"$tmp/peapod.json"
collect containerd | jq -s 'add // {}' >"$tmp/containerd.json"
jq -n --slurpfile pa "$tmp/peapod.json" --slurpfile pb "$tmp/containerd.json" '
  $pa[0] as $a | $pb[0] as $b |
  def med: sort | length as $n | if $n == 0 then null elif $n % 2 == 1 then .[($n - 1) / 2]
           else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
  def r2: if . == null then null else (. * 100 | round) / 100 end;
  def group: {"pod_benchmark_data.json": "pods", "container_benchmark_data.json": "containers",
              "image_lifecycle_benchmark_data.json": "images", "image_listing_benchmark_data.json": "images"}[.];
  # One row per operation, then the whole cycle: {op, n, median}.
  def medians($runs): if $runs == null then [] else
    ($runs[0].operationsNames) as $names | [$runs[] | .datapoints[]] as $points
    | [range(0; $names | length) as $i
        | {op: $names[$i], n: ($points | length),
           median: ([$points[] | .operationsDurationsNs[$i] / 1e6] | med | r2)}]
      + (if ($names | length) > 1 then
           [{op: "whole cycle", n: ($points | length),
             median: ([$points[] | (.operationsDurationsNs | add) / 1e6] | med | r2)}]
         else [] end) end;
  def row($what; $n; $pa; $pb):
    {what: $what, n: $n, peapod: $pa, containerd: $pb,
     ratio: (if $pa != null and ($pb // 0) > 0 then ($pa / $pb | r2) else null end)};
  [ ($a | keys_unsorted[] | select(. != "start")) as $f
    | medians($a[$f]) as $ma | medians($b[$f]) as $mb
    | range(0; $ma | length) as $i
    | row(($f | group) + ": " + $ma[$i].op; $ma[$i].n; $ma[$i].median;
          ([$mb[] | select(.op == $ma[$i].op) | .median][0])) ]
  + (if ($a.start // []) | length > 0 then
       [row("pod + container from scratch"; ($a.start | length);
            ([$a.start[] / 1e6] | med | r2); ([($b.start // [])[] / 1e6] | med | r2))]
     else [] end)' >"$dir/critest-bench.json"

jq -r 'def f2: if . == null then "-" else (. * 100 | round) as $x
           | "\($x / 100 | floor).\($x % 100 | tostring | if length < 2 then "0" + . else . end)" end;
  def pad($w): tostring | (" " * $w) + . | .[-$w:];
  "critest benchmark, median ms                      n    peapod  containerd  ratio",
  (.[] | "  \(.what | . + " " * 44 | .[0:44]) \(.n | pad(5))  \(.peapod | f2 | pad(8))"
    + "  \(.containerd | f2 | pad(10))  \(.ratio | f2 | pad(5))")' "$dir/critest-bench.json"
