namespace RewardedSoups.Tasks.Locomotion.Tests;

public sealed class BuiltInLocomotionTests
{
    [Theory]
    [InlineData("cheetah", 17, 6, 0.05)]
    [InlineData("hopper", 11, 3, 0.008)]
    [InlineData("humanoid", 53, 21, 0.025)]
    public void Create_EachTask_HasItsSizesAndStepDuration(string task, int observations, int actions, double dt)
    {
        using LocomotionEnv env = BuiltInLocomotion.Create(task, 2);
        Assert.Equal((task, 2, observations, actions, 1000), (env.Name, env.NumEnvs, env.ObservationSize, env.ActionSize, env.MaxEpisodeSteps));
        Assert.Equal(dt, env.Dt, 12);
    }

    [Fact]
    public void Create_UnknownTask_ListsValidNames()
    {
        var e = Assert.Throws<SoupInputException>(() => BuiltInLocomotion.Create("walker", 1));
        Assert.Equal("unknown locomotion task 'walker'; valid tasks: cheetah, hopper, humanoid", e.Message);
    }

    [Fact]
    public void Reward_RiskyAndCautious_WeighForwardVelocityAndControlCost()
    {
        string[] terms = ["forward_velocity", "control_cost", "alive", "height", "lateral_velocity"];
        Assert.Equal([1f, 0, 0, 0, 0], BuiltInLocomotion.Reward("risky").Resolve(terms));
        Assert.Equal([1f, -1, 0, 0, 0], BuiltInLocomotion.Reward("cautious").Resolve(terms));
        Assert.Equal(["risky", "cautious"], BuiltInLocomotion.RewardNames);
    }

    [Fact]
    public void Reward_Unknown_ListsValidNames()
    {
        var e = Assert.Throws<SoupInputException>(() => BuiltInLocomotion.Reward("reckless"));
        Assert.Equal("unknown locomotion reward 'reckless'; valid rewards: risky, cautious", e.Message);
    }

    [Theory]
    [InlineData("cheetah", false)]
    [InlineData("hopper", true)]
    [InlineData("humanoid", true)]
    public void Get_Tasks_TerminateOnlyWhenTheRobotCanFall(string task, bool terminates)
    {
        Assert.Equal(terminates, BuiltInLocomotion.Get(task).TerminatesWhenUnhealthy);
    }
}

public sealed class BodyParentsTests
{
    [Fact]
    public void Cheetah_BodyParents_FormTheLegChains()
    {
        using var env = RewardedSoups.Tasks.Locomotion.BuiltInLocomotion.Create("cheetah", 1);
        var names = env.BodyNames;
        int Parent(string body) => env.BodyParents[names.ToList().IndexOf(body)];
        Assert.Equal(0, env.BodyParents[0]);                       // the world is its own parent
        Assert.Equal(names.ToList().IndexOf("bthigh"), Parent("bshin"));
        Assert.Equal(names.ToList().IndexOf("bshin"), Parent("bfoot"));
        Assert.Equal(names.ToList().IndexOf("fthigh"), Parent("fshin"));
        Assert.Equal(names.ToList().IndexOf("torso"), Parent("fthigh"));
    }
}
