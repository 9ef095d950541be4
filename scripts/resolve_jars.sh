#!/usr/bin/env bash
# Resolve every pinned JVM artifact (jvm/pom.xml) into jars/<profile>/ once.
# Idempotent: a profile whose stamp is newer than the POM is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
for profile in spark flink kafka; do
  out="jars/$profile"
  stamp="$out/.resolved"
  if [[ -f "$stamp" && "$stamp" -nt jvm/pom.xml ]]; then
    continue
  fi
  echo "resolving JVM jars for $profile -> $out"
  rm -rf "$out" && mkdir -p "$out"
  if ! mvn -B -q -f jvm/pom.xml -P "$profile" dependency:copy-dependencies \
      -DoutputDirectory="$PWD/$out" -DincludeScope=runtime; then
    echo "error: Maven could not resolve the $profile jars of jvm/pom.xml; check the network to the Maven registry and the versions pinned there" >&2
    exit 1
  fi
  touch "$stamp"
done
