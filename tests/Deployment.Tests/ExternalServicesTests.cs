using k8s.Models;

namespace Deployment.Tests;

/// <summary>Messaging:Runtime and Database:Runtime external: no StatefulSets, connection strings from Secrets.</summary>
[Collection(PublishCollection.Name)]
public sealed class ExternalServicesTests(PublishFixture publish)
{
    [Fact]
    public void The_broker_and_the_database_are_left_out()
    {
        Assert.Empty(publish.ExternalObjects.OfType<V1StatefulSet>());
        Assert.Equal(["gateway", "python-inference", "worker"],
            publish.ExternalObjects.OfType<V1Deployment>().Select(d => d.Metadata.Name).Order());
    }

    [Fact]
    public void Connection_strings_come_from_Secrets_the_operator_fills()
    {
        var secrets = publish.ExternalObjects.OfType<V1Secret>().ToDictionary(secret => secret.Metadata.Name, secret => secret.Data.Keys.ToHashSet());
        var expected = new[]
        {
            ("worker", "ConnectionStrings__messaging"), ("worker", "ConnectionStrings__workerdb"),
            ("python-inference", "ConnectionStrings__messaging"), ("python-inference", "ConnectionStrings__analyticsdb"),
        };
        foreach (var (service, variable) in expected)
        {
            var env = publish.ExternalObjects.OfType<V1Deployment>().Single(d => d.Metadata.Name == service)
                .Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == variable);
            var reference = env.ValueFrom.SecretKeyRef;
            Assert.True(secrets.TryGetValue(reference.Name, out var keys) && keys.Contains(reference.Key), $"{service}: {variable}");
        }

        Assert.True(File.Exists(Path.Combine(publish.ExternalBaseDirectory, "messaging", "secrets.env.example")));
        // One folder per connection string, as the model has them: nothing of a server of our own is left.
        foreach (var database in new[] { "workerdb", "analyticsdb" })
        {
            Assert.Equal([database + "="], File.ReadLines(Path.Combine(publish.ExternalBaseDirectory, database, "secrets.env.example"))
                .Where(line => !line.StartsWith('#')));
        }

        Assert.False(Directory.Exists(Path.Combine(publish.ExternalBaseDirectory, "postgres")));
    }

    [Fact]
    public void The_apps_may_reach_the_external_services_on_their_ports_only()
    {
        foreach (var service in new[] { "worker", "python-inference" })
        {
            var egress = publish.ExternalObjects.OfType<V1NetworkPolicy>().Single(policy => policy.Metadata.Name == service).Spec.Egress;
            var anywhere = egress.Where(rule => rule.To.All(peer => peer.IpBlock is { Except: null or { Count: 0 } })).ToList();
            Assert.Equal([5432, 5671, 5672], anywhere.SelectMany(rule => rule.Ports).Select(port => int.Parse(port.Port.Value, System.Globalization.CultureInfo.InvariantCulture)).Order());
        }
    }
}
