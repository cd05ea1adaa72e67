"""The collectd config blocks of our plugins, one builder per plugin: each
returns its LoadPlugin line and <Plugin> block, starting on a new line and
ending with a newline, so the pieces can simply be concatenated."""


def option_value(value):
    """A config value as collectd reads it: true/false for a bool, a quoted
    string for a str, the number as written otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _block(lines):
    """The lines joined, headed by an empty line, ending with a newline."""
    return "\n" + "\n".join(lines) + "\n"


def agents_plugin_conf(agent_dir, state_dir, stale_after=None,
                       process_check=None):
    """qiflow_agents reading agent_dir, writing state_dir; StaleAfter and
    ProcessCheck only when given."""
    lines = ["LoadPlugin qiflow_agents", "<Plugin qiflow_agents>",
             f'  AgentDir "{agent_dir}"', f'  StateDir "{state_dir}"']
    if stale_after is not None:
        lines.append(f"  StaleAfter {stale_after}")
    if process_check is not None:
        lines.append(f"  ProcessCheck {option_value(bool(process_check))}")
    lines.append("</Plugin>")
    return _block(lines)


def backend_block(name, url, key, **options):
    """One <Backend> block of qiflow_heartbeat (key None: no APIKey line);
    options become "Key value" lines, in order (option_value)."""
    lines = [f'  <Backend "{name}">', f'    URL "{url}"']
    if key is not None:
        lines.append(f'    APIKey "{key}"')
    lines += [f"    {opt} {option_value(value)}"
              for opt, value in options.items()]
    lines.append("  </Backend>")
    return "\n".join(lines)


def heartbeat_conf(root, blocks, swarm, interval=1, extra="",
                   state_dir=None, log_dir="log"):
    """qiflow_heartbeat: SwarmID (none when swarm is None), Interval,
    StateDir (default root/state), LogDir root/log_dir, the raw lines of
    extra, then blocks (backend_block's and any raw <Webhook> text)."""
    lines = ["LoadPlugin qiflow_heartbeat", "<Plugin qiflow_heartbeat>"]
    if swarm:
        lines.append(f'  SwarmID "{swarm}"')
    lines += [f"  Interval {interval}",
              f'  StateDir "{state_dir or root / "state"}"',
              f'  LogDir "{root / log_dir}"']
    if extra:
        lines.append(extra)
    lines += list(blocks)
    lines.append("</Plugin>")
    return _block(lines)


def heartbeat_plugin_conf(root, url, swarm, key, log_dir="log", **backend):
    """qiflow_heartbeat every second with one backend "central" at url with
    key; backend: more options for it, in order (Timeout=2 writes
    "Timeout 2")."""
    return heartbeat_conf(root, [backend_block("central", url, key,
                                               **backend)],
                          swarm, log_dir=log_dir)


def github_conf(gh, state_dir, token=None, interval=None, timeout=None,
                extra="", url=None, repository=None):
    """qiflow_github against gh (a FakeGitHub: its repository and url unless
    given); its own Interval only when interval is given; Timeout and
    Token only when given; then the raw lines of extra."""
    if interval is None:
        lines = ["LoadPlugin qiflow_github"]
    else:
        lines = ["<LoadPlugin qiflow_github>", f"  Interval {interval}",
                 "</LoadPlugin>"]
    lines += ["<Plugin qiflow_github>",
              f'  Repository "{repository or gh.repository}"',
              f'  APIURL "{url or gh.url}"', f'  StateDir "{state_dir}"']
    if timeout is not None:
        lines.append(f"  Timeout {timeout}")
    if token:
        lines.append(f'  Token "{token}"')
    if extra:
        lines.append(extra)
    lines.append("</Plugin>")
    return _block(lines)


def anomaly_conf(state_dir, options=""):
    """qiflow_anomaly writing state_dir, then the raw lines of options."""
    lines = ["LoadPlugin qiflow_anomaly", "<Plugin qiflow_anomaly>",
             f'  StateDir "{state_dir}"']
    if options:
        lines.append(options)
    lines.append("</Plugin>")
    return _block(lines)
