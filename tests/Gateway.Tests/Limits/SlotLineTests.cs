using Gateway.Limits;

namespace Gateway.Tests.Limits;

/// <summary>
/// The line for a slot takes any call up to its limit while it keeps up, and once a call has waited out the wait in it,
/// only as many as it served over the last wait, until a whole wait passes with no call waiting it out or turned away.
/// </summary>
public sealed class SlotLineTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(1);

    [Fact]
    public void While_no_call_has_waited_out_the_wait_the_line_takes_a_burst_up_to_its_limit()
    {
        var line = new SlotLine(limit: 100, Wait, new ManualClock());

        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(line.TryJoin()));
        Assert.False(line.TryJoin(), "past its limit");
        Assert.Equal(100, line.Waiting);
        Assert.False(line.IsBehind);
    }

    [Fact]
    public void Once_a_call_waited_out_the_wait_the_line_takes_only_as_many_as_it_served_over_the_last_wait()
    {
        var clock = new ManualClock();
        var line = new SlotLine(limit: 100, Wait, clock);
        Join(line, 10);
        for (var i = 0; i < 3; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            line.Leave(SlotLine.Exit.Served); // three served, 100 ms apart
        }

        clock.Advance(Wait - TimeSpan.FromMilliseconds(300));
        line.Leave(SlotLine.Exit.WaitedOut);

        Assert.True(line.IsBehind);
        Assert.Equal(6, line.Waiting);
        Assert.False(line.TryJoin(), "six waiting already, three served over the last wait");
        for (var i = 0; i < 4; i++)
        {
            line.Leave(SlotLine.Exit.WaitedOut);
        }

        Assert.Equal(2, line.Waiting);
        Assert.True(line.TryJoin(), "two waiting, three served: one more can expect a slot in time");
        Assert.False(line.TryJoin());
    }

    [Fact]
    public void Behind_and_serving_none_the_line_takes_none()
    {
        var clock = new ManualClock();
        var line = new SlotLine(limit: 100, Wait, clock);
        Join(line, 1);
        clock.Advance(Wait);
        line.Leave(SlotLine.Exit.WaitedOut);

        Assert.Equal(0, line.Waiting);
        Assert.False(line.TryJoin(), "a full pool with an empty line that served nobody: refused at once");
    }

    [Fact]
    public void What_it_served_more_than_a_wait_ago_no_longer_counts()
    {
        var clock = new ManualClock();
        var line = new SlotLine(limit: 100, Wait, clock);
        Join(line, 5);
        for (var i = 0; i < 4; i++)
        {
            line.Leave(SlotLine.Exit.Served);
        }

        clock.Advance(TimeSpan.FromMilliseconds(1500));
        line.Leave(SlotLine.Exit.WaitedOut);

        Assert.False(line.TryJoin(), "the four served were 1.5 s ago");
    }

    [Fact]
    public void The_line_keeps_up_again_after_a_whole_wait_with_none_waited_out_and_none_turned_away()
    {
        var clock = new ManualClock();
        var line = new SlotLine(limit: 100, Wait, clock);
        Join(line, 1);
        line.Leave(SlotLine.Exit.WaitedOut);

        clock.Advance(TimeSpan.FromMilliseconds(900));
        Assert.False(line.TryJoin(), "turned away while behind: it stays behind from here");
        clock.Advance(TimeSpan.FromMilliseconds(900));
        Assert.True(line.IsBehind);
        clock.Advance(TimeSpan.FromMilliseconds(100));

        Assert.False(line.IsBehind);
        Join(line, 100);
        Assert.Equal(100, line.Waiting);
    }

    [Fact]
    public void A_caller_that_goes_away_frees_its_place_and_says_nothing_of_the_line()
    {
        var line = new SlotLine(limit: 1, Wait, new ManualClock());
        Join(line, 1);
        Assert.False(line.TryJoin());

        line.Leave(SlotLine.Exit.Gone);

        Assert.False(line.IsBehind);
        Assert.True(line.TryJoin());
    }

    private static void Join(SlotLine line, int calls)
    {
        for (var i = 0; i < calls; i++)
        {
            Assert.True(line.TryJoin(), $"call {i + 1} of {calls} could not join");
        }
    }

    /// <summary>A monotonic clock that moves only when told.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _now = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _now;

        public void Advance(TimeSpan by) => _now += by.Ticks;
    }
}
