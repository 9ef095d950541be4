#!/usr/bin/env bash
# Resolve every pinned JVM artifact (jvm/pom.xml) into jars/<profile>/ once, then build sensorlake's
# own Flink functions (jvm/functions) into jars/flink/.
# Idempotent: a profile whose stamp is newer than the POM is skipped, and so is the functions' build
# when its jar is newer than every file of jvm/functions.
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
  if ! mvn -B -q -Dstyle.color=never -f jvm/pom.xml -P "$profile" dependency:copy-dependencies \
      -DoutputDirectory="$PWD/$out" -DincludeScope=runtime; then
    echo "error: Maven could not resolve the $profile jars of jvm/pom.xml; check the network to the Maven registry and the versions pinned there" >&2
    exit 1
  fi
  touch "$stamp"
done

functions_jar=$(ls jars/flink/sensorlake-flink-functions-*.jar 2>/dev/null | head -1 || true)
if [[ -z "$functions_jar" || -n "$(find jvm/functions -type f -not -path '*/target/*' -newer "$functions_jar" -print -quit)" ]]; then
  echo "building sensorlake's Flink functions (jvm/functions) -> jars/flink"
  if ! mvn -B -q -Dstyle.color=never -f jvm/functions/pom.xml package; then
    echo "error: Maven could not build jvm/functions; check the network to the Maven registry and the Flink version pinned there" >&2
    exit 1
  fi
  rm -f jars/flink/sensorlake-flink-functions-*.jar
  cp jvm/functions/target/sensorlake-flink-functions-*.jar jars/flink/
fi
