"""Playbooks that act: the actions RED and ORANGE warnings take, stored and audited."""
