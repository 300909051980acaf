# Noise on benign traffic: internal/benign's month of an organisation's
# ordinary CloudTrail scored with the defaults, with accounts and
# trusted_networks, and with internal/benign/recommended.yaml. Included
# from the top-level Makefile. docs/noise.md explains the figures.

NOISE_TIMEOUT ?= 10m

.PHONY: noise

noise: ## Findings per 100k benign records by detector and severity: defaults, + accounts/trusted_networks, recommended config
	$(GO) test -count=1 -timeout $(NOISE_TIMEOUT) -run '^TestNoise$$' ./internal/benign -noise -v | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS' -e '^ok '
