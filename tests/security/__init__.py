"""Attacks on device identity, pairing and device tokens, over real 127.0.0.1 sockets.

Each test asserts the defence (error code, close code) *and* that no state changed (no device
row, no pending request, no token, no scope granted). security.md "Security tests a
reimplementation must pass":

covered here
  14  token-authenticated, device-less connect declaring operator.admin -> scopes cleared
      (test_device_attacks.py::test_remote_deviceless_admin_scopes_are_cleared)
  15  device.token.rotate / pairing approval beyond the caller's scopes -> rejected
  16  pending request re-submitted with more scopes -> approval applies only to what was shown
  17  device identity enforced unless the shared secret actually validated
  18  signature covers nonce and ts; replayed nonce, nonce from another socket, stale signedAt,
      forged signature (wrong key), wrong key for the id -> rejected
  plus: a revoked / rotated device token closes the live socket (4001) and fails on reconnect;
  pairing and tokens survive a restart and a kill -9 right after an acknowledged approval
  (test_persistence.py); a property test drives random device blocks through admission
  (test_admission_property.py).

  (test_pairing_methods.py: device.pair.list redaction, reject, operator.pairing gating of the
  methods and of the device.pair.* events.)

issue 13 ("Truthful and hardened"), covered here
  store docstring: no microsecond claim under synchronous=FULL
      (tests/state/test_store.py::test_docstring_states_the_commit_cost_truthfully)
  cron pacing validated and applied; trigger refused (INVALID_REQUEST naming the field);
      requested delivery recorded as not-delivered, never not-requested
      (tests/server/cron/test_pacing.py, test_trigger_refused.py, test_delivery_status.py,
      tests/server/nodes/test_cron_agent_turn.py::test_a_paced_agent_turn_proposes_its_next_check)
  heartbeat not advertised while nothing sends it; set-heartbeats refuses enabled:true
      (tests/server/integration/test_handshake_live.py::test_hello_ok_shape_for_a_reader,
      test_methods_live.py::test_set_heartbeats_on_is_refused_while_nothing_sends_them,
      tests/server/test_events.py::test_unknown_or_direct_events_are_never_broadcast)
  presence expiry bumps stateVersion and is broadcast once, even after a read dropped it
      (tests/server/integration/test_presence_expiry_live.py,
      tests/state/test_presence.py::test_expiry_seen_first_by_a_read_is_still_reported_once_by_prune)
  valid JSON, invalid Unicode (lone surrogate escapes) decided at the decoder: U+FFFD
      (tests/server/integration/test_unicode_live.py: later handshakes still work;
      tests/protocol/test_unicode.py: property test over every code point)
  log injection: control characters escaped at the sink (console and file)
      (tests/server/integration/test_log_injection_live.py,
      tests/core/test_logs.py::test_control_characters_are_escaped_in_every_sink)
  secret-bearing attrs fields are repr=False (connect auth, cli GatewayFlags, RunOptions,
      ResolvedAuth) (test_reprs.py::test_secret_fields_are_hidden_from_repr,
      ::test_cli_option_reprs_show_no_secret)
  handler exceptions: UNAVAILABLE "request handler failed" to the caller, the text logged
      (escaped) on the sync and async paths (test_handler_errors.py)
  gateway run --ambient-channels / --cli-backend-logs / --raw-stream / --raw-stream-path
      refused (exit 1), never ignored
      (tests/cli/test_run_inprocess.py::test_flags_without_a_subject_here_are_refused)
  client SDK: an event dropped for a slow consumer is the gap of the next delivered one
      (tests/client/test_event_gaps_live.py, real gateway, session and reconnecting client)
  detached service: check -> spawn -> pidfile under gateway.pid.lock; pids signalled through a
      pidfd (tests/host/service/test_detached.py::
      test_two_concurrent_starts_leave_one_gateway_and_its_pidfile,
      tests/host/test_terminate.py::test_pinned_ignores_a_pid_that_is_gone)
  SIGTERM during the bind retry: clean exit, runtime token file removed
      (tests/cli/test_subprocess.py::test_sigterm_during_the_bind_retry_is_a_clean_exit)
  /tmp/openclaw: 0700, another owner or a symlink refused, /tmp/openclaw-<uid> fallback; log
      files 0600 and never through a symlink; daily roll and 24 h prune
      (tests/core/test_tmpdir.py, tests/core/test_logs.py::test_the_dated_file_rolls_at_midnight,
      ::test_rolling_logs_older_than_24h_are_pruned, tests/server/test_logs_tail_roll.py)
  cron.list/cron.get/cron events redact a command job's env and input for non-admins; each
      view encoded once (tests/server/cron/test_redaction.py)
  command jobs run without the gateway's secrets in their environment
      (tests/server/cron/test_job_environment.py)
  channel relays: approved nodes only, size cap, per-node rate limit; node.invoke
      idempotency per caller and command; timeoutMs bounded
      (tests/server/nodes/test_node_limits.py, test_node_rules.py::test_invoke_timeout_is_bounded)
  pending pairing requests capped (256; the busiest address loses its oldest first) and
      expired in SQL by an index, never by decoding every row (tests/state/test_pending_cap.py)
  signed connects commit rarely: at most once per connect, none for a repeat within a minute
      or a refusal (test_connect_commits.py; reads take no write lock); Book.ensure_token /
      verify_token / touch read first too (tests/state/test_pairing_connect.py::
      test_token_reads_outside_a_connect_take_no_write_lock). The rare commit stays on the
      loop (~5 ms median, 12 ms p90 on the CI box): moving it to a thread needs one store
      connection per thread, not done.
  config hot reload: a rotated token closes old-token sockets 4001 `gateway auth changed`
      and the new one works without a restart; a port change restarts in process; a broken
      edit keeps the last good config and logs the key path; a file SecretRef re-resolves
      and one that stops resolving keeps the last good secret; no secret in any log
      (tests/server/restart/test_config_reload.py; a narrowed Origin allowlist closes the
      browser sockets it no longer allows 1008, a proxy-trust change closes all 4001
      (tests/server/integration/test_reload_policy_live.py); rules tests/server/test_reload_plan.py,
      watcher and modes tests/server/test_reloader.py, cron tests/server/cron/
      test_cron_reload.py, discovery tests/discovery/test_discovery_reload.py)
  SecretRefs file/exec: private single-link files only, exec command path trust, passEnv only,
      timeouts kill the resolver's group, resolver output never shown; an unresolvable ref
      exits 78 naming the key path (tests/host/test_secret_sources.py,
      tests/cli/test_run_inprocess.py::test_unresolvable_file_secret_ref_exits_78_naming_the_key)
  health/status report the watcher and real event-loop utilisation and CPU; the official
      `openclaw health` prints no reload warning and numeric util/cpu
      (tests/server/test_loop_monitor.py, tests/interop/test_official_cli.py::
      test_official_health_sees_an_active_watcher_and_real_loop_figures)

not covered by the device modules (and why)
  1-13, 19-25: bind/secret refusal, Origin, proxies, rate limiting, frame limits, log redaction,
      probes belong to the edge/auth work: see test_limits_*.py, test_origin_ws.py,
      test_proxy_trusted.py and the rule tests in this package, and tests/server/integration.
  metadata-upgrade (pinned platform/deviceFamily), setup-code bootstrap tokens, trusted-proxy
      device auto-approve, trusted-CIDR / SSH-verified node approval: not implemented yet.
"""
