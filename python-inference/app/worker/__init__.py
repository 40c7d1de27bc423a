"""python-inference as a client of the C# Worker: registering its model versions with the Worker's model registry and
asking which one is active, over gRPC (registry.v1) or HTTP/JSON (/v1/registry), each call with a service token."""
