#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the tests: etcd, kube-apiserver and
# kube-controller-manager v1.20.2, built once from Debian's archive alone and cached outside the
# repository. No kubelet, scheduler or container runtime: pods never run, and a test plays the
# kubelet by patching pods/status (see test/support/kube-control-plane.ts).
#
# Usage:
#   scripts/kube-control-plane.sh build            build once (a no-op when the cache is complete)
#   scripts/kube-control-plane.sh start RUN_DIR    fresh certificates, tokens and etcd data in RUN_DIR,
#                                                  start the three, wait until they serve; writes
#                                                  RUN_DIR/admin.kubeconfig and RUN_DIR/launcher.kubeconfig
#   scripts/kube-control-plane.sh stop RUN_DIR     stop what start started and remove its etcd data
#
# Environment: KUBE_CP_CACHE (default ~/.cache/vessl-secrets/kube-v1.20.2), KUBE_CP_APISERVER_PORT
# (16443), KUBE_CP_ETCD_PORT (12379, the peer port is the next one), KUBE_CP_OWNER_PID (start: stop
# the plane when that process ends, so a killed test run leaves nothing behind), KUBE_CP_KEEP_BUILD=1
# (build: keep the source tree and Go cache under the cache directory, about 2 GB, instead of
# deleting them).
#
# Why Debian's source package: bookworm ships no kube-apiserver binary, but src:kubernetes is the
# whole upstream v1.20.2 tree with vendor/, which builds offline (GOPATH mode, GOPROXY=off) with
# bookworm's Go 1.19 after the two fixes below. etcd comes from the etcd-server .deb, unpacked and
# not installed, so no system service is registered.
set -euo pipefail

KUBE_VERSION=v1.20.2
CACHE=${KUBE_CP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vessl-secrets/kube-$KUBE_VERSION}
BIN=$CACHE/bin
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "kube-control-plane: $*" >&2; }
die() { say "$*"; exit 1; }

built() { [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -x $BIN/etcd && -f $BIN/.complete ]]; }

build() {
  if built; then
    return 0
  fi
  # One build at a time per cache (two test runs on a new machine): the second waits, then finds it built.
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.build.lock"
  if ! flock -n 9; then
    say "another build of $CACHE is under way; waiting for it"
    flock 9
  fi
  if built; then
    return 0
  fi
  local started=$SECONDS
  say "building Kubernetes $KUBE_VERSION (kube-apiserver, kube-controller-manager) and unpacking etcd into $BIN"
  say "this happens once per machine: about 7 minutes on 2 idle cores, half an hour on a busy machine"
  command -v go >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 ||
    "$here/apt-install.sh" kube-control-plane golang-go openssl curl
  mkdir -p "$CACHE"
  local work=$CACHE/build
  rm -rf "$work"
  mkdir -p "$work/apt/lists/partial" "$work/apt/sources" "$CACHE/debs"

  # A private apt configuration: the system's own Debian entries with deb-src added, so the
  # system's sources stay untouched. apt checks every file against the signed index.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && grep -q 'debian' "$f" && sed -E 's/^Types:.*$/Types: deb deb-src/' "$f" >"$work/apt/sources/$(basename "$f")"
  done
  if [[ -f /etc/apt/sources.list ]]; then
    grep -E '^deb .*debian' /etc/apt/sources.list | sed 'p;s/^deb /deb-src /' >"$work/apt/sources/system.list" || true
  fi
  local apt=(apt-get -q -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/apt/sources"
    -o "Dir::State::Lists=$work/apt/lists" -o "APT::Sandbox::User=root")
  say "fetching the kubernetes source package and the etcd-server, reflect2 and json-iterator packages from Debian's archive"
  (cd "$CACHE/debs" &&
    "${apt[@]}" update -qq &&
    "${apt[@]}" source --download-only kubernetes &&
    "${apt[@]}" download etcd-server golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev) \
    >"$work/fetch.log" 2>&1 || { cat "$work/fetch.log" >&2; die "fetching from Debian's archive failed"; }

  say "unpacking"
  local orig
  orig=$(ls "$CACHE"/debs/kubernetes_*.orig.tar.gz | sort -V | tail -n 1)
  local gopath=$work/gopath
  local src=$gopath/src/k8s.io/kubernetes
  mkdir -p "$src" "$work/debs"
  tar xzf "$orig" -C "$src" --strip-components=1
  for f in "$CACHE"/debs/*.deb; do dpkg-deb -x "$f" "$work/debs"; done
  [[ -d $src/vendor/k8s.io && -d $src/cmd/kube-apiserver ]] || die "$orig is not the Kubernetes tree this script expects"

  # Fix 2 (of the research's two): the vendored reflect2 1.0.1 and json-iterator 1.1.10 crash the
  # apiserver under Go >= 1.18 (runtime.mapiternext fault); Debian's 1.0.2 and 1.1.12 are the same
  # bump upstream made for Go 1.18.
  local gocode=$work/debs/usr/share/gocode/src
  rm -rf "$src/vendor/github.com/modern-go/reflect2" "$src/vendor/github.com/json-iterator/go"
  cp -a "$gocode/github.com/modern-go/reflect2" "$src/vendor/github.com/modern-go/reflect2"
  cp -a "$gocode/github.com/json-iterator/go" "$src/vendor/github.com/json-iterator/go"
  cp "$work/debs/usr/bin/etcd" "$work/etcd"

  export GOPATH=$gopath GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOCACHE=$work/gocache
  cd "$src"

  # Fix 1: pkg/generated/openapi/zz_generated.openapi.go is generated at build time upstream and
  # is not in the tarball. Same generator (vendored openapi-gen) and same package selection as
  # upstream's build/root/Makefile.generated_files (KUBE_OPENAPI_TAG_FILES).
  say "generating the OpenAPI definitions (openapi-gen)"
  go build -o "$work/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local dirs
  dirs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print |
    sed 's|^\./||; s|^staging/src|vendor|' | xargs grep --color=never -l '^// *+k8s:' |
    grep -vE '^vendor/k8s.io/(code-generator|sample-apiserver)/' |
    xargs grep --color=never -l '+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u |
    sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  "$work/openapi-gen" --logtostderr -v 0 -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$work/api-rules.report" --output-base "$gopath/src" >"$work/openapi-gen.log" 2>&1 ||
    { tail -n 30 "$work/openapi-gen.log" >&2; die "openapi-gen failed"; }
  if ! diff -q "$work/api-rules.report" api/api-rules/violation_exceptions.list >/dev/null; then
    say "warning: openapi-gen's API rule report differs from upstream's list (it may have seen other packages)"
  fi

  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=20 -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  ldflags=${ldflags//k8s.io\//k8s.io\/kubernetes\/vendor\/k8s.io\/}
  local cmd
  for cmd in kube-apiserver kube-controller-manager; do
    say "compiling $cmd (minutes; $((SECONDS - started)) s so far)"
    go build -trimpath -ldflags "$ldflags" -o "$work/$cmd" "./cmd/$cmd" >"$work/$cmd.log" 2>&1 ||
      { tail -n 30 "$work/$cmd.log" >&2; die "go build of $cmd failed"; }
  done
  cd "$CACHE"
  mkdir -p "$BIN"
  mv "$work/kube-apiserver" "$work/kube-controller-manager" "$work/etcd" "$BIN/"
  "$BIN/kube-apiserver" --version | grep -q "$KUBE_VERSION" || die "the built kube-apiserver does not say $KUBE_VERSION"
  if [[ ${KUBE_CP_KEEP_BUILD:-} != 1 ]]; then
    chmod -R u+w "$work" && rm -rf "$work"
  fi
  touch "$BIN/.complete"
  say "built in $((SECONDS - started)) s: $(du -sh "$BIN" | cut -f1) in $BIN"
}

# ---- start / stop ---------------------------------------------------------------------------

APISERVER_PORT=${KUBE_CP_APISERVER_PORT:-16443}
ETCD_PORT=${KUBE_CP_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
# Who the launcher is in launcher.kubeconfig: the job-launcher ServiceAccount of namespace
# vessl-secrets, as deploy/ runs it (so a RoleBinding shaped like deploy/'s applies to it). It has
# no rights until a test binds it some (the tests bind deploy/'s vessl-job-launcher ClusterRole).
LAUNCHER_NAMESPACE=vessl-secrets
LAUNCHER_USER=system:serviceaccount:$LAUNCHER_NAMESPACE:job-launcher

kubeconfig() { # FILE TOKEN
  cat >"$1" <<EOF_KC
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: https://127.0.0.1:$APISERVER_PORT
      certificate-authority: $run/ca.crt
users:
  - name: user
    user:
      token: $2
contexts:
  - name: local
    context: { cluster: local, user: user }
current-context: local
EOF_KC
}

# Waits for a command to succeed, giving up after a deadline (seconds); says which process died.
await_ready() { # WHAT DEADLINE PIDFILE COMMAND...
  local what=$1 deadline=$((SECONDS + $2)) pidfile=$3
  shift 3
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -n 25 "${pidfile%.pid}.log" >&2; die "$what exited while starting (log above)"; }
    ((SECONDS < deadline)) || { tail -n 25 "${pidfile%.pid}.log" >&2; die "$what was not ready after $2 s"; }
    sleep 0.2
  done
}

start() {
  run=${1:?start needs a run directory}
  build
  mkdir -p "$run"
  run=$(cd "$run" && pwd)
  [[ ! -e $run/apiserver.pid ]] || die "$run already holds a running control plane (stop it first)"
  local began=$SECONDS
  say "starting etcd, kube-apiserver ($KUBE_VERSION) on https://127.0.0.1:$APISERVER_PORT and kube-controller-manager; run directory $run"

  # Fresh credentials for every run: a CA, the apiserver's serving certificate, the service
  # account signing key, and random bearer tokens.
  (
    cd "$run"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=vessl-test-kube-ca
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth,clientAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile apiserver.ext
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >"$run/openssl.log" 2>&1 || { cat "$run/openssl.log" >&2; die "openssl failed"; }
  local admin_token cm_token launcher_token
  admin_token=$(openssl rand -hex 24)
  cm_token=$(openssl rand -hex 24)
  launcher_token=$(openssl rand -hex 24)
  umask 077
  cat >"$run/tokens.csv" <<EOF_TOK
$admin_token,vessl-test-admin,uid-admin,"system:masters"
$cm_token,system:kube-controller-manager,uid-kcm
$launcher_token,$LAUNCHER_USER,uid-launcher,"system:serviceaccounts,system:serviceaccounts:$LAUNCHER_NAMESPACE"
EOF_TOK
  kubeconfig "$run/admin.kubeconfig" "$admin_token"
  kubeconfig "$run/controller-manager.kubeconfig" "$cm_token"
  kubeconfig "$run/launcher.kubeconfig" "$launcher_token"
  echo "$LAUNCHER_USER" >"$run/launcher.user"

  # etcd's data lives in memory (/dev/shm when there is one): it is thrown away on stop.
  local shm=/dev/shm
  [[ -d $shm && -w $shm ]] || shm=$run
  local data
  data=$(mktemp -d "$shm/vessl-kube-etcd.XXXXXX")
  echo "$data" >"$run/etcd.data"
  setsid "$BIN/etcd" --name test --data-dir "$data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "test=http://127.0.0.1:$ETCD_PEER_PORT" --logger zap --log-level warn \
    </dev/null >"$run/etcd.log" 2>&1 &
  echo $! >"$run/etcd.pid"
  await_ready etcd 30 "$run/etcd.pid" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  # TTLAfterFinished is alpha (off by default) in 1.20; without it ttlSecondsAfterFinished is dropped.
  setsid "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" --insecure-port 0 \
    --tls-cert-file "$run/apiserver.crt" --tls-private-key-file "$run/apiserver.key" \
    --client-ca-file "$run/ca.crt" --token-auth-file "$run/tokens.csv" \
    --authorization-mode RBAC --anonymous-auth=false \
    --service-account-key-file "$run/sa.pub" --service-account-signing-key-file "$run/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --api-audiences https://kubernetes.default.svc \
    --service-cluster-ip-range 10.96.0.0/24 \
    --kubelet-client-certificate "$run/apiserver.crt" --kubelet-client-key "$run/apiserver.key" \
    --kubelet-preferred-address-types InternalIP \
    --feature-gates TTLAfterFinished=true --profiling=false --cert-dir "$run" \
    </dev/null >"$run/apiserver.log" 2>&1 &
  echo $! >"$run/apiserver.pid"
  await_ready kube-apiserver 90 "$run/apiserver.pid" \
    curl -fsS --cacert "$run/ca.crt" -H "Authorization: Bearer $admin_token" "https://127.0.0.1:$APISERVER_PORT/readyz"

  # Only the controllers the tests rely on (the Job controller, garbage collection, TTL, service
  # accounts and namespace deletion): the others cost CPU on a 2-core machine and show nothing.
  setsid "$BIN/kube-controller-manager" \
    --kubeconfig "$run/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$run/sa.key" --root-ca-file "$run/ca.crt" \
    --controllers job,garbagecollector,ttl-after-finished,serviceaccount,serviceaccount-token,namespace \
    --feature-gates TTLAfterFinished=true --profiling=false \
    </dev/null >"$run/controller-manager.log" 2>&1 &
  echo $! >"$run/controller-manager.pid"
  # Up once the service account controller has made the default namespace's ServiceAccount.
  await_ready kube-controller-manager 60 "$run/controller-manager.pid" \
    curl -fsS --cacert "$run/ca.crt" -H "Authorization: Bearer $admin_token" \
    "https://127.0.0.1:$APISERVER_PORT/api/v1/namespaces/default/serviceaccounts/default"

  if [[ -n ${KUBE_CP_OWNER_PID:-} ]]; then
    # Stop the plane when its owner (a test run) ends, however it ends.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -e "$3/apiserver.pid" ]]; do sleep 1; done; "$2" stop "$3"' \
      watchdog "$KUBE_CP_OWNER_PID" "$here/kube-control-plane.sh" "$run" </dev/null >/dev/null 2>&1 &
  fi
  say "ready in $((SECONDS - began)) s: KUBECONFIG=$run/admin.kubeconfig (admin), $run/launcher.kubeconfig (user $LAUNCHER_USER, no rights)"
}

stop() {
  run=${1:?stop needs a run directory}
  [[ -d $run ]] || return 0
  # Killed outright: every run's state is thrown away, so a graceful shutdown (about 6 s for
  # the apiserver) buys nothing.
  local name pid
  for name in controller-manager apiserver etcd; do
    [[ -f $run/$name.pid ]] || continue
    pid=$(cat "$run/$name.pid")
    kill -KILL "$pid" 2>/dev/null || true
    # Until it is gone (or a zombie nobody has reaped yet: that holds no port or file).
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] && ((SECONDS < deadline)); do sleep 0.1; done
    rm -f "$run/$name.pid"
  done
  if [[ -f $run/etcd.data ]]; then
    rm -rf "$(cat "$run/etcd.data")"
    rm -f "$run/etcd.data"
  fi
  say "stopped the control plane of $run"
}

case ${1:-} in
  build) build ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) die "usage: $0 build | start RUN_DIR | stop RUN_DIR" ;;
esac
