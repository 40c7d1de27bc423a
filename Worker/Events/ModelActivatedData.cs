namespace Worker.Events;

/// <summary>The data of <c>model.activated</c>: the version a model now serves (python-inference reloads it).</summary>
public sealed record ModelActivatedData(string Model, string Version) : IEventData
{
    public static string EventType => DomainEvent.ModelActivated;
}
