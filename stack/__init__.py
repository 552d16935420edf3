"""The local stack: install, build, start, stop and check the servers of DESIGN.md section 5."""
