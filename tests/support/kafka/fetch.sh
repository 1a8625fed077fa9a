#!/usr/bin/env bash
# Fetches the tests' Apache Kafka peers from Maven Central with Maven (pom.xml beside this
# script) into a cache outside the repository:
#   fetch.sh [kafka]  the broker: <cache>/kafka-<version>/libs/*.jar
#   fetch.sh connect  a Connect worker: <cache>/connect-<version>/libs/*.jar (with the
#                     Sanitizer shim Debezium 3.6.1 needs on Connect 4.4, logging through
#                     Log4j 2 as Connect's distribution does), and Debezium's
#                     Postgres connector as a plugin: <cache>/connect-<version>/plugins/
#                     debezium-connector-postgres/*.jar
#   fetch.sh all      both
# <cache> is $TIDEMARK_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/tidemark. A directory is complete
# when its `.complete` marker exists (written last); a complete one is left alone, so running
# this again is cheap. Needs `mvn` (3.8+) and a JDK 17+.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pom="$here/pom.xml"
cache=${TIDEMARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidemark}
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
[ -n "$version" ] || { echo "fetch.sh: no <kafka.version> in $pom" >&2; exit 1; }

command -v mvn >/dev/null || { echo "fetch.sh: Maven (mvn) is required to fetch Apache Kafka" >&2; exit 1; }
command -v java >/dev/null || { echo "fetch.sh: a JDK 17+ (java) is required to run Apache Kafka" >&2; exit 1; }

# copy <profile> <dir>: the profile's runtime dependencies into <dir>; Maven's output only
# when it fails.
copy() {
    local out
    if ! out=$(mvn -q -B -f "$pom" -P "$1" dependency:copy-dependencies -DoutputDirectory="$2" 2>&1); then
        echo "$out" >&2
        echo "fetch.sh: Maven could not fetch profile $1 of $pom (see above)" >&2
        return 1
    fi
}

# fetch <name> <step...>: runs the steps in a fresh staging directory (each step gets it as
# its argument) and moves it to <cache>/<name>-<version> with its marker.
fetch() {
    local name=$1 final="$cache/$1-$version"
    shift
    if [ -e "$final/.complete" ]; then
        echo "$name $version: present in $final"
        return
    fi
    mkdir -p "$cache"
    local staging
    staging=$(mktemp -d "$cache/.$name-$version.XXXXXX")
    trap 'rm -rf "$staging"' RETURN
    echo "$name $version: fetching into $final"
    local step
    for step in "$@"; do
        "$step" "$staging"
    done
    chmod 755 "$staging"
    touch "$staging/.complete"
    rm -rf "$final"
    # Another fetch may have finished first; its copy is as good as this one.
    mv -T "$staging" "$final" 2>/dev/null || [ -e "$final/.complete" ]
}

kafka_libs() { copy kafka "$1/libs"; }
connect_libs() { copy connect "$1/libs"; }
debezium_plugin() { copy debezium "$1/plugins/debezium-connector-postgres"; }

# The Sanitizer shim (shim/…/Sanitizer.java) that Debezium 3.6.1 needs on a Connect 4.4 worker,
# compiled into the worker's libs as a jar; added to a complete cache too (it came later).
SHIM_JAR=tidemark-debezium-3.6.1-sanitizer-shim.jar
connect_shim() {
    local libs="$cache/connect-$version/libs"
    [ -e "$libs/$SHIM_JAR" ] && return
    local tmp
    tmp=$(mktemp -d "$cache/.shim.XXXXXX")
    trap 'rm -rf "$tmp"' RETURN
    javac -nowarn -cp "$libs/*" -d "$tmp/classes" \
        "$here/shim/org/apache/kafka/common/utils/Sanitizer.java"
    jar cf "$tmp/$SHIM_JAR" -C "$tmp/classes" .
    mv "$tmp/$SHIM_JAR" "$libs/$SHIM_JAR"
    echo "connect $version: Sanitizer shim for Debezium 3.6.1 in $libs/$SHIM_JAR"
}

# Log4j 2 behind SLF4J in Connect's libs, as Connect's distribution logs (its /admin/loggers
# needs it); added to a complete cache too (it came later), replacing slf4j-simple. The marker
# says it is done.
LOG4J_MARKER=.log4j2
connect_log4j() {
    local home="$cache/connect-$version"
    [ -e "$home/$LOG4J_MARKER" ] && return
    if ! ls "$home/libs"/log4j-slf4j-impl-*.jar >/dev/null 2>&1; then
        local tmp
        tmp=$(mktemp -d "$cache/.log4j.XXXXXX")
        trap 'rm -rf "$tmp"' RETURN
        copy connect "$tmp"
        cp "$tmp"/log4j-*.jar "$home/libs/"
    fi
    rm -f "$home/libs"/slf4j-simple-*.jar
    touch "$home/$LOG4J_MARKER"
    echo "connect $version: Log4j 2 behind SLF4J in $home/libs"
}

what=${1:-kafka}
case "$what" in
    kafka) fetch kafka kafka_libs ;;
    connect) fetch connect connect_libs debezium_plugin && connect_shim && connect_log4j ;;
    all)
        fetch kafka kafka_libs
        fetch connect connect_libs debezium_plugin && connect_shim && connect_log4j
        ;;
    *)
        echo "usage: fetch.sh [kafka|connect|all]" >&2
        exit 2
        ;;
esac
