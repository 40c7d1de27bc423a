using Worker.Events;
using Worker.Persistence;
using Worker.Registry;
using Worker.Security;

namespace Worker.Tests.Registry;

public sealed class ModelRegistryStoreContractTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>python-inference, which registers versions (and so activates a model's first).</summary>
    internal static readonly Caller Python = new("python-inference", null);

    /// <summary>A user activating through the gateway.</summary>
    internal static readonly Caller Admin = new("gateway", "admin-alice");

    internal static NewModelVersion Version(string version = "1.0.0", char hash = 'a', string name = "sentiment") => new(
        name, version, "text", ["negative", "positive"], new Dictionary<string, double> { ["held_out_accuracy"] = 0.844 },
        new string(hash, 64), "naive-Bayes weighted logistic regression", DateTimeOffset.Parse("2026-01-02T03:04:05Z",
            System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<List<DomainEvent>> ActivationEventsAsync(TemporaryJobStore db) =>
        [.. (await db.PendingAsync()).Where(m => m.Type == DomainEvent.ModelActivated).SelectMany(m => DomainEvent.TryParseAll(m.Body)!)];

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_models_first_version_becomes_active_and_is_announced(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);

        var registration = await db.Registry.RegisterAsync(Version(), Python, Token);

        Assert.Equal(RegistrationStatus.Created, registration.Status);
        Assert.True(registration.Version.Active);
        var active = await db.Registry.FindActiveAsync("sentiment", Token);
        Assert.Equal("1.0.0", active?.Version);
        Assert.Equal(["negative", "positive"], active?.Labels);
        Assert.Equal(0.844, active?.Metrics["held_out_accuracy"]);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), active?.CreatedAt);
        var announced = Assert.Single(await ActivationEventsAsync(db));
        Assert.Equal("sentiment", announced.Data.GetProperty("model").GetString());
        Assert.Equal("1.0.0", announced.Data.GetProperty("version").GetString());
        Assert.Equal("python-inference", announced.Data.GetProperty("activatedBy").GetProperty("service").GetString());
        Assert.Equal(Python, active?.ActivatedBy); // the registering service made it active
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Registering_the_same_artifact_again_changes_nothing(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var first = await db.Registry.RegisterAsync(Version(), Python, Token);

        var again = await db.Registry.RegisterAsync(Version() with { ArtifactSha256 = new string('A', 64), Description = "other words" }, Python, Token);

        Assert.Equal(RegistrationStatus.AlreadyRegistered, again.Status);
        Assert.Equal(first.Version.RegisteredAt, again.Version.RegisteredAt);
        Assert.Equal("naive-Bayes weighted logistic regression", again.Version.Description);
        Assert.Single((await db.Registry.ListAsync("sentiment", Token))!.Versions);
        Assert.Single(await ActivationEventsAsync(db));
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Another_artifact_under_a_registered_version_is_a_conflict(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await db.Registry.RegisterAsync(Version(hash: 'a'), Python, Token);

        var conflict = await db.Registry.RegisterAsync(Version(hash: 'b'), Python, Token);

        Assert.Equal(RegistrationStatus.Conflict, conflict.Status);
        Assert.Equal(new string('a', 64), conflict.Version.ArtifactSha256);
        Assert.Equal(new string('a', 64), (await db.Registry.FindActiveAsync("sentiment", Token))?.ArtifactSha256);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_later_version_is_registered_inactive_and_listed_after_the_first(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await db.Registry.RegisterAsync(Version("2.0.0", 'b'), Python, Token);

        var later = await db.Registry.RegisterAsync(Version("1.5.0", 'c'), Python, Token);

        Assert.False(later.Version.Active);
        var list = await db.Registry.ListAsync("sentiment", Token);
        Assert.Equal("2.0.0", list?.ActiveVersion);
        Assert.Equal(["2.0.0", "1.5.0"], list?.Versions.Select(v => v.Version));
        Assert.Equal([true, false], list?.Versions.Select(v => v.Active));
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Activation_switches_the_active_version_and_writes_exactly_one_event(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await db.Registry.RegisterAsync(Version("1.0.0", 'a'), Python, Token);
        await db.Registry.RegisterAsync(Version("1.1.0", 'b'), Python, Token);
        var before = await ActivationEventsAsync(db);

        var activation = await db.Registry.ActivateAsync("sentiment", "1.1.0", Admin, Token);

        Assert.Equal(ActivationStatus.Activated, activation.Status);
        Assert.True(activation.Version?.Active);
        Assert.Equal("1.1.0", (await db.Registry.FindActiveAsync("sentiment", Token))?.Version);
        var announced = Assert.Single((await ActivationEventsAsync(db)).ExceptBy(before.Select(e => e.Id), e => e.Id));
        Assert.Equal(DomainEvent.ModelActivated, announced.Type);
        Assert.Equal("worker", announced.Source);
        Assert.Equal("1.1.0", announced.Data.GetProperty("version").GetString());
        Assert.Equal("gateway", announced.Data.GetProperty("activatedBy").GetProperty("service").GetString());
        Assert.Equal("admin-alice", announced.Data.GetProperty("activatedBy").GetProperty("user").GetString());
        var listed = Assert.Single((await db.Registry.ListAsync("sentiment", Token))!.Versions, v => v.Active);
        Assert.Equal(("1.1.0", Admin), (listed.Version, listed.ActivatedBy));
        Assert.NotNull(listed.ActivatedAt);
        Assert.Equal(Admin, activation.Version?.ActivatedBy);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Activating_the_active_version_again_writes_nothing(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await db.Registry.RegisterAsync(Version("1.0.0", 'a'), Python, Token);
        await db.Registry.RegisterAsync(Version("1.1.0", 'b'), Python, Token);
        await db.Registry.ActivateAsync("sentiment", "1.1.0", Admin, Token);
        var before = (await db.PendingAsync()).Count;

        var again = await db.Registry.ActivateAsync("sentiment", "1.1.0", Admin, Token);

        Assert.Equal(ActivationStatus.AlreadyActive, again.Status);
        Assert.Equal("1.1.0", again.Version?.Version);
        Assert.Equal(before, (await db.PendingAsync()).Count);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Unknown_models_and_versions_are_not_found(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await db.Registry.RegisterAsync(Version(), Python, Token);

        Assert.Equal(ActivationStatus.ModelNotFound, (await db.Registry.ActivateAsync("unicorn", "1.0.0", Admin, Token)).Status);
        Assert.Equal(ActivationStatus.VersionNotFound, (await db.Registry.ActivateAsync("sentiment", "9.9.9", Admin, Token)).Status);
        Assert.Null(await db.Registry.ListAsync("unicorn", Token));
        Assert.Null(await db.Registry.FindActiveAsync("unicorn", Token));
        Assert.Single(await ActivationEventsAsync(db));
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Models_are_independent(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await db.Registry.RegisterAsync(Version("1.0.0", 'a'), Python, Token);

        var iris = await db.Registry.RegisterAsync(Version("1.0.0", 'b', name: "iris") with { InputKind = "features" }, Python, Token);

        Assert.Equal(RegistrationStatus.Created, iris.Status);
        Assert.True(iris.Version.Active);
        Assert.Equal("features", (await db.Registry.FindActiveAsync("iris", Token))?.InputKind);
        Assert.Equal(2, (await ActivationEventsAsync(db)).Count);
    }
}
