"""The conductor's side of the fleet (docs/fleet.md): the agents' sockets (``hub``), the remote
worker the job engine dispatches to (``remote``) and install tokens (``tokens``)."""
