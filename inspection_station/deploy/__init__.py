"""How the station is set up on a Windows PC, as data: the service, firewall and ACL commands.

Plain Python (no Windows API, no Qt): `inspection-station service|firewall` run these
commands, packaging/build.py writes them into the installer (nsis.py), and the tests check
them on any OS. Nothing here is imported by the station's core.
"""
