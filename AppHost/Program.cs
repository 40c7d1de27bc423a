using AppHost;
using AppHost.Messaging;
using AppHost.Python;

var builder = DistributedApplication.CreateBuilder(args);

// RabbitMQ: a container, the machine's rabbitmq-server, or an external broker (Messaging:Runtime).
var messaging = builder.AddMessageBroker("messaging");

var inference = builder.AddUvicornApp("python-inference", "../python-inference", "app.main:app")
    .WithHttpHealthCheck("/health");

var worker = builder.AddProject<Projects.Worker>("worker")
    .WithHttpEndpoint(isProxied: false) // a stopped Worker refuses connections instead of hanging them
    .WithHttpHealthCheck("/health")
    .WithJobDatabase(builder)
    .WithReference(messaging).WaitFor(messaging)
    .WithReference(inference).WaitFor(inference);

// Python calls back into C# (the model registry lives in the Worker), so it discovers the Worker too.
inference.WithReference(worker);

// The only public entrance: HTTP on 8080 and HTTPS on 8443 (its launch profile). Kestrel listens itself, on
// both loopback families; Aspire's proxy would listen on 127.0.0.1 only.
builder.AddProject<Projects.Gateway>("gateway")
    .WithEndpoint("http", endpoint => endpoint.IsProxied = false)
    .WithEndpoint("https", endpoint => endpoint.IsProxied = false)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithReference(inference).WaitFor(inference)
    .WithReference(worker).WaitFor(worker);

builder.Build().Run();
