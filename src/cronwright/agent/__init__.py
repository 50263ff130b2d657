"""The agent: ``cronwright agent`` runs jobs on a server for a conductor (servers-agents.md, docs/fleet.md).

``protocol`` holds the wire shared with the conductor (engine/fleet) and with stock xySat agents. The
agent program: ``main`` (``run_agent``: enrol, connect, stop), ``config`` (agent.json, enrolment),
``connection`` (the WebSocket, handshake, backoff, commands), ``jobs`` (running jobs with
``cronwright.runner``, finishing them), ``reports`` (``jobs``/``job_log``/``job_meta`` frames),
``spool`` (a job's log and report on disk), ``transfer`` (the HTTP calls), ``plugins`` (the plugin
cache) and ``sysinfo`` (the hello ``info``).
"""
