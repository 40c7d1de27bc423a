using Worker.Security;

namespace Worker.Events;

/// <summary>
/// The data of <c>model.activated</c>: the version a model now serves (python-inference reloads it) and who activated
/// it (the calling service, and the user it acted for), which the audit log keeps.
/// </summary>
public sealed record ModelActivatedData(string Model, string Version, Caller? ActivatedBy = null) : IEventData
{
    public static string EventType => DomainEvent.ModelActivated;
}
