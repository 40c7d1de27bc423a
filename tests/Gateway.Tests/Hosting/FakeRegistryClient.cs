using System.Collections.Concurrent;
using Gateway.Application;
using Gateway.Upstream;
using Gateway.Upstream.Worker;

namespace Gateway.Tests.Hosting;

/// <summary>The Worker's registry in memory, with its answers: 404 problems for unknown models and versions.</summary>
public sealed class FakeRegistryClient : IRegistryClient
{
    private readonly ConcurrentDictionary<string, List<ModelVersionView>> _models = new();

    public ConcurrentQueue<(string Name, string Version, string User)> Activations { get; } = new();

    public void Register(string name, params string[] versions)
    {
        var now = DateTimeOffset.UtcNow;
        _models[name] = [.. versions.Select((version, i) => new ModelVersionView(name, version, "text", ["negative", "positive"],
            new Dictionary<string, double> { ["held_out_accuracy"] = 0.8 }, new string('a', 64), "", null, now, i == 0))];
    }

    public Task<Outcome<ModelVersionList>> ListVersionsAsync(string name, string user, CancellationToken cancellationToken) =>
        Task.FromResult(_models.TryGetValue(name, out var versions)
            ? Outcome.Success(new ModelVersionList(name, versions.Single(v => v.Active).Version, versions))
            : Outcome.Failure<ModelVersionList>(UpstreamProblems.Of(404, "model_not_found", "No such model.")));

    public Task<Outcome<ModelVersionView>> ActivateAsync(string name, string version, string user, CancellationToken cancellationToken)
    {
        Activations.Enqueue((name, version, user));
        if (!_models.TryGetValue(name, out var versions))
        {
            return Task.FromResult(Outcome.Failure<ModelVersionView>(UpstreamProblems.Of(404, "model_not_found", "No such model.")));
        }

        lock (versions)
        {
            if (versions.FindIndex(v => v.Version == version) is var index && index < 0)
            {
                return Task.FromResult(Outcome.Failure<ModelVersionView>(
                    UpstreamProblems.Of(404, "model_version_not_found", "No such model version.", $"Model {name} has no version {version}.")));
            }

            for (var i = 0; i < versions.Count; i++)
            {
                versions[i] = versions[i] with
                {
                    Active = i == index,
                    ActivatedAt = i == index ? DateTimeOffset.UtcNow : null,
                    ActivatedBy = i == index ? new ModelActivator("gateway", user) : null,
                };
            }

            return Task.FromResult(Outcome.Success(versions[index]));
        }
    }
}
