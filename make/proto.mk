# Protobuf API tooling: lint, breaking-change check and code generation for
# proto/ -> gen/. Included from the top-level Makefile, which sets
# SHELL := bash and .SHELLFLAGS := -eu -o pipefail -c.
#
# buf and the protoc plugins (pinned in buf.gen.yaml) run through `go run` at
# pinned versions: no downloaded binaries, no Buf Schema Registry.

BUF := go run github.com/bufbuild/buf/cmd/buf@v1.75.0

# BUF_BREAKING_REF is the git ref the API must stay compatible with.
BUF_BREAKING_REF ?= main

.PHONY: generate check-generate buf-lint buf-breaking

generate: ## Regenerate gen/ from proto/
	$(BUF) generate

check-generate: generate ## Fail when committed generated code is stale
	@if [[ -n "$$(git status --porcelain --untracked-files=all -- gen)" ]]; then \
		echo >&2 "check-generate: gen/ is stale: 'make generate' changed these files:"; \
		git status --porcelain --untracked-files=all -- gen >&2; \
		git --no-pager diff --stat -- gen >&2; \
		echo >&2 "check-generate: run 'make generate' and commit the result."; \
		exit 1; \
	fi
	@echo "check-generate: gen/ is up to date."

buf-lint: ## Lint proto with buf
	$(BUF) lint

buf-breaking: ## Fail on wire/source-breaking API changes against $(BUF_BREAKING_REF)
	@if ! git cat-file -e '$(BUF_BREAKING_REF):buf.yaml' 2>/dev/null; then \
		echo "buf-breaking: $(BUF_BREAKING_REF) has no buf.yaml yet; nothing to compare against, skipping."; \
	else \
		$(BUF) breaking --against '.git#ref=$(BUF_BREAKING_REF)'; \
	fi
