# Real artefacts for the inventory tests (issue 3), built once and cached:
#   $GATEHOUSE_TEST_CACHE/inventory/root/        an unpacked "image" root holding
#     usr/local/bin/goapp                        go build, modules from the Go module proxy
#     srv/web/node_modules                       npm ci of a small express project
#     opt/venv                                   venv with pip-installed PyPI packages
#     opt/java/*.jar                             maven-built jar, its deps, and a fat jar
#     var/lib/rpm/rpmdb.sqlite                   rpmdb (sqlite) with rpmbuild-built rpms
#     usr/local/bin/rustapp                      cargo auditable build, crates from crates.io
#   $GATEHOUSE_TEST_CACHE/inventory/expected/    what the reference tools say is installed
#   $GATEHOUSE_TEST_CACHE/inventory/oci          OCI layout, tag lang: root + a layer deleting/adding
#   $GATEHOUSE_TEST_CACHE/inventory/spdx-tools   venv with the SPDX project's validator (pyspdxtools)
#   (and Debian's ruby, whose gems the ruby test lists)
#   $GATEHOUSE_TEST_CACHE/debian-rootfs          debootstrap minbase (if 40-test-images did not)
# Each part has its own stamp, so a re-run only checks. Bump VERSION to rebuild.
set -euo pipefail
source .ci/env.sh
apt_install maven default-jdk-headless rpm python3-venv debootstrap zip unzip ruby
command -v go >/dev/null || apt_install golang-go

VERSION=1
INV="$GATEHOUSE_TEST_CACHE/inventory"
ROOT="$INV/root"
EXP="$INV/expected"
WORK="$INV/build"
mkdir -p "$ROOT" "$EXP" "$WORK"
done_stamp() { [ -f "$INV/.$1-v$VERSION" ]; }
stamp() { touch "$INV/.$1-v$VERSION"; }

# --- Debian root filesystem (shared with the image tests; only built here if absent) ---
DEB="$GATEHOUSE_TEST_CACHE/debian-rootfs"
if [ ! -f "$DEB/.complete" ]; then
  step "inventory: debootstrap bookworm minbase"
  rm -rf "$DEB"
  debootstrap --variant=minbase bookworm "$DEB" http://deb.debian.org/debian >/dev/null
  touch "$DEB/.complete"
fi

# --- Go binary with real module dependencies ---
if ! done_stamp go; then
  step "inventory: go build"
  GO=$(command -v go)
  rm -rf "$WORK/go" && mkdir -p "$WORK/go" && cd "$WORK/go"
  "$GO" mod init example.com/goapp >/dev/null 2>&1
  cat > main.go <<'EOF'
package main

import (
	"fmt"

	"github.com/google/uuid"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

func main() { fmt.Println(cases.Title(language.English).String("id"), uuid.NewString()) }
EOF
  "$GO" get github.com/google/uuid@v1.6.0 golang.org/x/text@v0.14.0 >/dev/null 2>&1
  CGO_ENABLED=0 "$GO" build -o goapp . 
  mkdir -p "$ROOT/usr/local/bin" && cp goapp "$ROOT/usr/local/bin/goapp"
  "$GO" version -m goapp > "$EXP/goapp.version-m.txt"
  cd - >/dev/null
  stamp go
fi

# --- npm project installed with npm ci ---
if ! done_stamp npm; then
  step "inventory: npm ci"
  rm -rf "$ROOT/srv/web" && mkdir -p "$ROOT/srv/web" && cd "$ROOT/srv/web"
  printf '{"name":"web","version":"1.0.0","private":true,"dependencies":{"express":"4.19.2","lodash":"4.17.21","debug":"4.3.4"}}\n' > package.json
  npm install --package-lock-only --no-audit --no-fund --ignore-scripts >/dev/null 2>&1
  npm ci --no-audit --no-fund --ignore-scripts >/dev/null 2>&1
  npm ls --all --json > "$EXP/npm-ls.json" || true
  cd - >/dev/null
  stamp npm
fi

# --- Python venv with packages from PyPI ---
if ! done_stamp python; then
  step "inventory: pip install into a venv"
  rm -rf "$ROOT/opt/venv"
  /usr/bin/python3 -m venv "$ROOT/opt/venv"
  "$ROOT/opt/venv/bin/pip" install -q --disable-pip-version-check requests==2.31.0 PyYAML==6.0.1 zope.interface==6.1 typing_extensions==4.9.0
  "$ROOT/opt/venv/bin/pip" list --format json --disable-pip-version-check > "$EXP/pip-list.json"
  stamp python
fi

# --- Maven-built jar, its dependencies, and a fat jar nesting them ---
if ! done_stamp java; then
  step "inventory: mvn package"
  rm -rf "$WORK/java" && mkdir -p "$WORK/java/src/main/resources" && cd "$WORK/java"
  echo 'hello' > src/main/resources/hello.txt
  cat > pom.xml <<'EOF'
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.gatehouse</groupId>
  <artifactId>inv-app</artifactId>
  <version>1.2.3</version>
  <packaging>jar</packaging>
  <properties><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies>
    <dependency><groupId>org.apache.commons</groupId><artifactId>commons-lang3</artifactId><version>3.14.0</version></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId><version>2.16.1</version></dependency>
  </dependencies>
</project>
EOF
  mvn -q -B package dependency:copy-dependencies -DoutputDirectory=target/lib >/dev/null
  mvn -q -B dependency:list -DoutputFile="$EXP/mvn-deps.txt" -DexcludeTransitive=false >/dev/null
  mkdir -p "$ROOT/opt/java" && cp target/inv-app-1.2.3.jar target/lib/*.jar "$ROOT/opt/java/"
  # A Spring-Boot-style fat jar: the app and its dependencies nested under BOOT-INF/lib.
  rm -rf fat && mkdir -p fat/BOOT-INF/lib fat/META-INF && cp target/lib/*.jar fat/BOOT-INF/lib/
  printf 'Manifest-Version: 1.0\nMain-Class: org.example.Launcher\n' > fat/META-INF/MANIFEST.MF
  (cd fat && zip -q -r -0 ../fat.jar META-INF BOOT-INF)
  mkdir -p "$ROOT/opt/fat" && cp fat.jar "$ROOT/opt/fat/fat.jar"
  cd - >/dev/null
  stamp java
fi

# --- rpmdb (sqlite backend) with two rpmbuild-built noarch rpms ---
if ! done_stamp rpm; then
  step "inventory: rpmbuild + rpm --initdb"
  rm -rf "$WORK/rpm" "$ROOT/var/lib/rpm" && mkdir -p "$WORK/rpm" "$ROOT/var/lib/rpm"
  for spec in "hello-tool 1:2.5.0-3 MIT" "libdemo 0.9.1-1 Apache-2.0"; do
    set -- $spec
    name=$1; evr=$2; lic=$3
    epoch=""; [[ "$evr" == *:* ]] && { epoch=${evr%%:*}; evr=${evr#*:}; }
    ver=${evr%-*}; rel=${evr##*-}
    cat > "$WORK/rpm/$name.spec" <<EOF
Name: $name
Version: $ver
Release: $rel
${epoch:+Epoch: $epoch}
Summary: Gatehouse inventory test package
License: $lic
Vendor: Gatehouse Test Vendor
BuildArch: noarch
%description
Test package for the rpm analyzer.
%install
mkdir -p %{buildroot}/usr/share/$name
echo $name > %{buildroot}/usr/share/$name/README
%files
/usr/share/$name/README
EOF
    rpmbuild -bb --quiet --define "_topdir $WORK/rpm/top" "$WORK/rpm/$name.spec" >/dev/null 2>&1
  done
  rpm --initdb --dbpath "$ROOT/var/lib/rpm"
  rpm -i --nodeps --justdb --ignoreos --dbpath "$ROOT/var/lib/rpm" "$WORK"/rpm/top/RPMS/noarch/*.rpm
  rpm -qa --dbpath "$ROOT/var/lib/rpm" --qf '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM} %{VENDOR} %{LICENSE}\n' | sort > "$EXP/rpm-qa.txt"
  stamp rpm
fi

# --- Rust binary built with cargo-auditable (dependency list embedded in .dep-v0) ---
if ! done_stamp rust; then
  step "inventory: cargo auditable build"
  export PATH="$HOME/.cargo/bin:$INV/cargo/bin:$PATH"
  command -v cargo-auditable >/dev/null || cargo install -q --locked --root "$INV/cargo" cargo-auditable@0.7.7
  rm -rf "$WORK/rust" && mkdir -p "$WORK/rust/src" && cd "$WORK/rust"
  printf '[package]\nname = "rustapp"\nversion = "0.3.1"\nedition = "2021"\n\n[dependencies]\nsemver = "=1.0.23"\nitoa = "=1.0.11"\nryu = "=1.0.18"\n' > Cargo.toml
  echo 'fn main() { let mut b = itoa::Buffer::new(); let mut r = ryu::Buffer::new(); println!("{} {} {}", semver::Version::new(1, 2, 3), b.format(7), r.format(1.5)); }' > src/main.rs
  cargo auditable build -q --release
  mkdir -p "$ROOT/usr/local/bin" && cp target/release/rustapp "$ROOT/usr/local/bin/rustapp"
  cp Cargo.lock "$EXP/rustapp.Cargo.lock"
  cd - >/dev/null
  stamp rust
  rm -f "$INV"/.image-v*
fi

# --- The artefacts as an OCI image (two layers) ---
if ! done_stamp image; then
  step "inventory: OCI image of the artefacts"
  tar --numeric-owner --sort=name --mtime='2024-06-01 00:00:00' -C "$ROOT" -cf "$WORK/lang-root.tar" .
  node --import tsx test/inventory/fixtures/build-lang-image.ts "$WORK/lang-root.tar" "$INV/oci"
  rm -f "$WORK/lang-root.tar"
  stamp image
fi

# --- SPDX's own validator, for the SPDX 2.3 output ---
if ! done_stamp spdx-tools; then
  step "inventory: pip install spdx-tools"
  rm -rf "$INV/spdx-tools"
  /usr/bin/python3 -m venv "$INV/spdx-tools"
  "$INV/spdx-tools/bin/pip" install -q --disable-pip-version-check spdx-tools==0.8.3
  stamp spdx-tools
fi
