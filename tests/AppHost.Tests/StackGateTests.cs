namespace AppHost.Tests;

/// <summary>The gate that keeps the outage tests alone on the SQLite stack (no stack needed).</summary>
public sealed class StackGateTests
{
    private static readonly TimeSpan Moment = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Shared_passes_go_together_and_an_exclusive_one_waits_until_they_have_all_left()
    {
        using var gate = new SharedExclusiveGate();
        var first = gate.EnterShared();
        var second = gate.EnterShared();

        var exclusive = Task.Run(gate.EnterExclusive);
        await Task.Delay(Moment, TestContext.Current.CancellationToken);
        Assert.False(exclusive.IsCompleted);

        first.Dispose();
        await Task.Delay(Moment, TestContext.Current.CancellationToken);
        Assert.False(exclusive.IsCompleted);

        second.Dispose();
        (await exclusive.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)).Dispose();
    }

    [Fact]
    public async Task A_waiting_exclusive_pass_holds_back_new_shared_ones_until_it_has_been()
    {
        using var gate = new SharedExclusiveGate();
        var early = gate.EnterShared();
        var exclusive = Task.Run(gate.EnterExclusive);
        await Task.Delay(Moment, TestContext.Current.CancellationToken);

        var late = Task.Run(gate.EnterShared);
        await Task.Delay(Moment, TestContext.Current.CancellationToken);
        Assert.False(late.IsCompleted);

        early.Dispose();
        var alone = await exclusive.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await Task.Delay(Moment, TestContext.Current.CancellationToken);
        Assert.False(late.IsCompleted);

        alone.Dispose();
        alone.Dispose(); // a pass leaves once
        (await late.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)).Dispose();
        gate.EnterExclusive().Dispose();
    }
}
