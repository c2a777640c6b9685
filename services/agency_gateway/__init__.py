"""Agency gateway: a stand-in for the outside query and control systems (总对总/点对点).

It exists for development, tests and demos; asset control reaches it only through a client
interface that a real connector can replace. Its query and control API comes with asset
control (issue 4); for now it serves the standard gRPC health service.
"""
