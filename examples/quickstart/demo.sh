#!/usr/bin/env bash
# The quickstart demo, run by `make demo` from the repository root: deploy a
# web service and a database to the local swarm, change a secret, deploy
# again, watch the new version roll out and the old ones go, then rotate the
# database password.
set -euo pipefail
cd "$(dirname "$0")/../.."
stackctl=${STACKCTL:-bin/stackctl}
stack=${STACK:-quickstart}

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "the demo image: a static Go binary in a FROM-scratch image, built here (no registry)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/app" ./testdata/app
tag=$(sha256sum "$work/app" | cut -c1-12)
export DEMO_IMAGE="stackctl-demo:$tag"
if ! docker image inspect "$DEMO_IMAGE" >/dev/null 2>&1; then
  tar -C "$work" -cf - app | docker import --change 'ENTRYPOINT ["/app"]' --change 'CMD ["sleep"]' - "$DEMO_IMAGE" >/dev/null
fi
echo "$DEMO_IMAGE"

# Work on a copy, so that changing a secret leaves the repository as it is.
cp -r examples/quickstart "$work/quickstart"
compose="$work/quickstart/compose.yml"
export SOPS_AGE_KEY_FILE="$PWD/examples/quickstart/demo-age-key.txt"

step "stackctl deploy: every secret and config is a version named by a keyed hash"
"$stackctl" deploy -c "$compose" "$stack"
docker secret ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}}'

step "deploy again: nothing changed, so nothing is written"
"$stackctl" deploy -c "$compose" "$stack"

step "change api_token: one new version, one rolling update of web, db untouched"
echo "demo-api-token-2" >"$work/quickstart/api_token.txt"
"$stackctl" plan -q -c "$compose" "$stack"
"$stackctl" deploy -c "$compose" "$stack"

step "change it again, keep no unused version: the first one is pruned (the previous stays for rollback)"
echo "demo-api-token-3" >"$work/quickstart/api_token.txt"
"$stackctl" deploy --keep 0 -c "$compose" "$stack"
docker secret ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}}'

step "stackctl rotate db_password: a new random value, written into secrets.enc.yaml, rolled to db and web at once"
cp examples/quickstart/secrets.enc.yaml "$work/before.enc.yaml"
"$stackctl" rotate db_password -c "$compose" "$stack"
echo "the SOPS file changed only where it must:"
diff "$work/before.enc.yaml" "$work/quickstart/secrets.enc.yaml" | grep '^[<>]' | cut -c1-60 || true
for svc in db web; do
  printf '%s_%s now reads: ' "$stack" "$svc"
  docker service inspect "${stack}_$svc" --format '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}'
done

step "docker's own commands see the stack"
docker stack services "$stack"
echo
echo "Remove it with: docker stack rm $stack"
