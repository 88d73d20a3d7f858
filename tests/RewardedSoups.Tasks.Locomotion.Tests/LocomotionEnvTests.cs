using System.Runtime.InteropServices;
using RewardedSoups.Tasks.Locomotion.Tests.Fixtures;

namespace RewardedSoups.Tasks.Locomotion.Tests;

public sealed class LocomotionEnvTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("cheetah")]
    [InlineData("hopper")]
    public void Step_SameSeedAndActions_BitIdenticalTrajectories(string task)
    {
        using var a = BuiltInLocomotion.Create(task, 4);
        using var b = BuiltInLocomotion.Create(task, 4);
        a.Reset(42);
        b.Reset(42);
        var sa = new StepBuffers(a);
        var sb = new StepBuffers(b);
        var random = new Random(3);
        int ended = 0;
        for (int t = 0; t < 300; t++)
        {
            for (int k = 0; k < sa.Actions.Length; k++) sa.Actions[k] = sb.Actions[k] = (float)(3 * random.NextDouble() - 1.5);
            sa.Step();
            sb.Step();
            Assert.Equal(Bits(a.Observations), Bits(b.Observations));
            Assert.Equal(Bits(sa.Rewards), Bits(sb.Rewards));
            Assert.Equal(sa.Terminated, sb.Terminated);
            Assert.Equal(sa.Truncated, sb.Truncated);
            ended += sa.Terminated.Count(x => x);
        }
        // The hopper falls under random actions, so its auto-resets were compared too.
        if (task == "hopper") Assert.True(ended > 0);
    }

    [Fact]
    public void Reset_DifferentInstancesAndSeeds_DrawDifferentNoise()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 3);
        int size = env.ObservationSize;
        env.Reset(1);
        float[][] rows = Enumerable.Range(0, 3).Select(i => env.Observations.Slice(i * size, size).ToArray()).ToArray();
        Assert.NotEqual(rows[0], rows[1]);
        Assert.NotEqual(rows[1], rows[2]);
        env.Reset(2);
        Assert.NotEqual(rows[0], env.Observations[..size].ToArray());
        env.Reset(1);
        Assert.Equal(rows[0], env.Observations[..size].ToArray());
    }

    [Fact]
    public void Reset_Cheetah_QposUniformWithinPointOneQvelGaussianPointOne()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 64);
        env.Reset(5);
        var qposNoise = new List<double>();
        var qvel = new List<double>();
        for (int i = 0; i < env.NumEnvs; i++)
        {
            MjData data = env.DataOf(i);
            for (int k = 0; k < data.Qpos.Length; k++) qposNoise.Add(data.Qpos[k] - data.Model.Qpos0[k]);
            qvel.AddRange(data.Qvel.ToArray());
        }
        Assert.All(qposNoise, d => Assert.InRange(d, -0.1, 0.1));
        Assert.True(qposNoise.Max(Math.Abs) > 0.09, "uniform noise should come close to its bound over 576 draws");
        double mean = qvel.Average();
        double std = Math.Sqrt(qvel.Sum(v => (v - mean) * (v - mean)) / qvel.Count);
        Assert.InRange(mean, -0.02, 0.02); // standard error 0.004
        Assert.InRange(std, 0.088, 0.112); // standard error 0.003
    }

    [Fact]
    public void Observations_Cheetah_AreQposWithoutXThenQvel()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 2);
        var s = new StepBuffers(env);
        s.Actions.AsSpan().Fill(0.3f);
        for (int t = 0; t < 5; t++) s.Step();
        Assert.Equal(17, env.ObservationSize);
        for (int i = 0; i < 2; i++)
        {
            MjData data = env.DataOf(i);
            float[] expected = [.. data.Qpos[1..].ToArray().Select(v => (float)v), .. data.Qvel.ToArray().Select(v => (float)v)];
            Assert.Equal(expected, env.Observations.Slice(i * 17, 17).ToArray());
        }
    }

    [Fact]
    public void Observations_Humanoid_LeaveOutXAndY()
    {
        using var env = BuiltInLocomotion.Create("humanoid", 1);
        MjData data = env.DataOf(0);
        Assert.Equal(26 + 27, env.ObservationSize);
        Assert.Equal((float)data.Qpos[2], env.Observations[0]);  // torso height first
        Assert.Equal((float)data.Qvel[0], env.Observations[26]); // then velocities, x first
        Assert.InRange(env.Observations[0], 1.45f, 1.55f);
    }

    [Fact]
    public void Step_ZeroActions_TimeAdvancesByFrameSkipTimesTimestep()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 2);
        var s = new StepBuffers(env);
        s.Step();
        Assert.Equal(0.05, env.DataOf(1).Time, 12);
        s.Step();
        s.Step();
        Assert.Equal(0.15, env.DataOf(1).Time, 12);
        Assert.Equal(0.05, env.Dt, 12);
    }

    [Theory]
    [InlineData(-1f, 0.0, 1f)]
    [InlineData(0f, 1.0, 0f)]
    [InlineData(0.5f, 1.5, 0.25f)]
    [InlineData(1f, 2.0, 1f)]
    [InlineData(5f, 2.0, 1f)]   // clipped to 1 before mapping and before the cost
    [InlineData(-7f, 0.0, 1f)]  // clipped to -1
    public void Step_Sled_ActionMapsOntoCtrlRangeAndDrivesForwardVelocity(float action, double ctrl, float cost)
    {
        using var env = new LocomotionEnv(Sled.Task(_dir.Write("sled.xml", Sled.Xml)), 1);
        var s = new StepBuffers(env);
        s.Actions[0] = action;
        s.Step();
        Assert.Equal(ctrl, env.DataOf(0).Ctrl[0], 12); // ctrlrange [0, 2]: −1 → 0, 1 → 2
        // From rest with a = ctrl/2 for n = 3 timesteps h: x = a·h²·n(n+1)/2, so Δx/dt = a·h·(n+1)/2 = 0.01·ctrl.
        Assert.Equal(0.01 * ctrl, s.Term(0, "forward_velocity"), 6);
        Assert.Equal(cost, s.Term(0, "control_cost"));
        Assert.Equal(1f, s.Term(0, "height"));
        Assert.Equal(1f, s.Term(0, "alive"));
    }

    [Fact]
    public void Step_ActionFive_BehavesAsActionOne()
    {
        using var clipped = BuiltInLocomotion.Create("cheetah", 1);
        using var unit = BuiltInLocomotion.Create("cheetah", 1);
        var sc = new StepBuffers(clipped);
        var su = new StepBuffers(unit);
        float[] big = [5, -7, 5, 1e6f, -2, 5];
        float[] one = [1, -1, 1, 1, -1, 1];
        big.CopyTo(sc.Actions, 0);
        one.CopyTo(su.Actions, 0);
        for (int t = 0; t < 20; t++)
        {
            sc.Step();
            su.Step();
        }
        Assert.Equal(Bits(unit.Observations), Bits(clipped.Observations));
        Assert.Equal(6f, sc.Term(0, "control_cost"));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Step_NonFiniteAction_TruncatesCountsAndResetsThatInstanceOnly(float bad)
    {
        using var env = BuiltInLocomotion.Create("cheetah", 3);
        using var twin = BuiltInLocomotion.Create("cheetah", 3);
        var s = new StepBuffers(env);
        var st = new StepBuffers(twin);
        s.Actions.AsSpan().Fill(0.5f);
        st.Actions.AsSpan().Fill(0.5f);
        for (int t = 0; t < 5; t++)
        {
            s.Step();
            st.Step();
        }
        int size = env.ObservationSize;
        float[] before = env.Observations.Slice(size, size).ToArray();
        s.Actions[env.ActionSize + 2] = bad; // instance 1, third actuator

        s.Step();
        st.Step();

        Assert.Equal([false, true, false], s.Truncated);
        Assert.Equal([false, false, false], s.Terminated);
        Assert.Equal(1, env.InvalidEpisodes);
        Assert.All(s.Rewards.AsSpan(env.RewardTerms.Count, env.RewardTerms.Count).ToArray(), r => Assert.Equal(0f, r));
        Assert.Equal(before, env.FinalObservations.Slice(size, size).ToArray()); // the last valid observation
        Assert.All(env.Observations.ToArray(), o => Assert.True(float.IsFinite(o)));
        Assert.Equal(0, env.DataOf(1).Time); // a fresh episode
        // The other instances went on as if nothing happened.
        Assert.Equal(Bits(twin.Observations[..size]), Bits(env.Observations[..size]));
        Assert.Equal(Bits(twin.Observations[(2 * size)..]), Bits(env.Observations[(2 * size)..]));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(1e11)] // beyond MuJoCo's bound: it resets the instance itself and only raises a warning
    public void Step_DivergedVelocity_TruncatesCountsAndKeepsObservationsFinite(double velocity)
    {
        using var env = BuiltInLocomotion.Create("cheetah", 2);
        var s = new StepBuffers(env);
        s.Step();
        env.DataOf(0).Qvel[4] = velocity;
        s.Step();
        Assert.Equal([true, false], s.Truncated);
        Assert.Equal([false, false], s.Terminated);
        Assert.Equal(1, env.InvalidEpisodes);
        Assert.All(env.Observations.ToArray(), o => Assert.True(float.IsFinite(o)));
        Assert.All(env.FinalObservations[..env.ObservationSize].ToArray(), o => Assert.True(float.IsFinite(o)));
        Assert.Equal(0, env.DataOf(0).Time);
    }

    [Fact]
    public void Step_CheetahAt1000Steps_TruncatesAndFinalObservationIsThePreResetOne()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 1);
        using var longer = new LocomotionEnv(BuiltInLocomotion.Get("cheetah") with { MaxEpisodeSteps = 2000 }, 1);
        env.Reset(9);
        longer.Reset(9);
        var s = new StepBuffers(env);
        var sl = new StepBuffers(longer);
        s.Actions.AsSpan().Fill(-0.2f);
        sl.Actions.AsSpan().Fill(-0.2f);
        for (int t = 1; t < 1000; t++)
        {
            s.Step();
            sl.Step();
            Assert.False(s.Truncated[0] || s.Terminated[0], $"episode ended at step {t}");
        }
        s.Step();
        sl.Step();
        Assert.True(s.Truncated[0]);
        Assert.False(s.Terminated[0]); // the cheetah cannot fall
        Assert.False(sl.Truncated[0]);
        // The final observation is the one the 1000-step episode would have continued from...
        Assert.Equal(Bits(longer.Observations), Bits(env.FinalObservations));
        // ...while the current one starts the next episode.
        Assert.NotEqual(Bits(longer.Observations), Bits(env.Observations));
        Assert.Equal(0, env.DataOf(0).Time);
        Assert.Equal(1f, s.Term(0, "alive"));
    }

    [Fact]
    public void Step_HopperZeroActions_FallsAndTerminates()
    {
        using var env = BuiltInLocomotion.Create("hopper", 1);
        var s = new StepBuffers(env);
        int steps = 0;
        do
        {
            s.Step();
            steps++;
            Assert.False(s.Truncated[0]);
            Assert.Equal(s.Terminated[0] ? 0f : 1f, s.Term(0, "alive"));
        }
        while (!s.Terminated[0] && steps < 1000);

        Assert.InRange(steps, 20, 300);
        float height = env.FinalObservations[0], pitch = env.FinalObservations[1];
        Assert.True(height < 0.7f || Math.Abs(pitch) > 0.2f, $"ended healthy: height {height}, pitch {pitch}");
        Assert.InRange(env.Observations[0], 1.24f, 1.26f); // the new episode stands at 1.25 ± 0.005
    }

    [Fact]
    public void Step_HumanoidZeroActions_FallsBelowOneMetreAndTerminates()
    {
        using var env = BuiltInLocomotion.Create("humanoid", 1);
        var s = new StepBuffers(env);
        int steps = 0;
        do
        {
            s.Step();
            steps++;
        }
        while (!s.Terminated[0] && steps < 1000);

        Assert.InRange(steps, 5, 200);
        Assert.True(env.FinalObservations[0] < 1.0f, $"torso height {env.FinalObservations[0]}");
        Assert.Equal(0f, s.Term(0, "alive"));
    }

    [Fact]
    public void Step_CheetahOpenLoopGait_RunsForwardAndVelocityIsDisplacementOverDt()
    {
        // Back leg and front leg in sine waves at 2.5 Hz, a quarter period apart: a bounding gait.
        using var env = BuiltInLocomotion.Create("cheetah", 1);
        var s = new StepBuffers(env);
        MjData data = env.DataOf(0);
        double sum = 0;
        for (int t = 0; t < 200; t++)
        {
            double phase = 2 * Math.PI * 2.5 * t * env.Dt;
            for (int j = 0; j < 3; j++)
            {
                s.Actions[j] = (float)Math.Sin(phase);
                s.Actions[3 + j] = (float)Math.Sin(phase + Math.PI / 2);
            }
            double x0 = data.Qpos[0];
            s.Step();
            Assert.Equal((data.Qpos[0] - x0) / env.Dt, s.Term(0, "forward_velocity"), 1e-4);
            sum += s.Term(0, "forward_velocity");
        }
        Assert.InRange(sum / 200, 0.3, 10); // m/s, averaged over 10 s
    }

    [Fact]
    public void Step_CheetahRandomFullScaleActions_NeverDiverges()
    {
        // The cheetah runs on semi-implicit Euler at 0.01 s: bang-bang torques must not blow it up.
        using var env = BuiltInLocomotion.Create("cheetah", 8);
        var s = new StepBuffers(env);
        var random = new Random(11);
        float largest = 0;
        for (int t = 0; t < 1500; t++)
        {
            for (int k = 0; k < s.Actions.Length; k++) s.Actions[k] = random.Next(2) == 0 ? -1 : 1;
            s.Step();
            foreach (float o in env.Observations) largest = Math.Max(largest, Math.Abs(o));
        }
        Assert.Equal(0, env.InvalidEpisodes);
        Assert.InRange(largest, 1, 100); // joint speeds reach tens of rad/s, nothing wilder
    }

    [Fact]
    public void ReadBodyPositions_Cheetah_TorsoSitsAtTheRootJoints()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 2);
        var s = new StepBuffers(env);
        s.Actions.AsSpan().Fill(0.7f);
        for (int t = 0; t < 10; t++) s.Step();
        var positions = new double[3 * env.BodyNames.Count]; // [bodies, 3]
        env.ReadBodyPositions(1, positions);
        int torso = env.BodyNames.ToList().IndexOf("torso");
        MjData data = env.DataOf(1);
        Assert.Equal(data.Qpos[0], positions[3 * torso], 12);
        Assert.Equal(0, positions[3 * torso + 1]);
        Assert.Equal(data.Qpos[1], positions[3 * torso + 2], 12); // rootz has ref 0.7: qpos is the height
        Assert.Equal([0, 0, 0], positions[..3]); // the world
    }

    [Fact]
    public void ReadBodyPositions_BetweenSteps_LeaveTheTrajectoryUnchanged()
    {
        using var recorded = BuiltInLocomotion.Create("hopper", 1);
        using var plain = BuiltInLocomotion.Create("hopper", 1);
        var sr = new StepBuffers(recorded);
        var sp = new StepBuffers(plain);
        var positions = new double[3 * recorded.BodyNames.Count];
        var random = new Random(8);
        for (int t = 0; t < 100; t++)
        {
            for (int k = 0; k < sr.Actions.Length; k++) sr.Actions[k] = sp.Actions[k] = (float)(2 * random.NextDouble() - 1);
            sr.Step();
            sp.Step();
            recorded.ReadBodyPositions(0, positions);
        }
        Assert.Equal(Bits(plain.Observations), Bits(recorded.Observations));
    }

    [Fact]
    public void Step_SteadyState_AllocatesNothing()
    {
        using var env = BuiltInLocomotion.Create("hopper", 4);
        var s = new StepBuffers(env);
        for (int t = 0; t < 20; t++) s.Step(); // JIT and first calls
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 500; t++) s.Step(); // with zero actions the hopper falls: auto-resets included
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void RewardTerms_PlanarAndHumanoid_NamedInOrder()
    {
        using var cheetah = BuiltInLocomotion.Create("cheetah", 1);
        using var humanoid = BuiltInLocomotion.Create("humanoid", 1);
        Assert.Equal(["forward_velocity", "control_cost", "alive", "height"], cheetah.RewardTerms);
        Assert.Equal(["forward_velocity", "control_cost", "alive", "height", "lateral_velocity"], humanoid.RewardTerms);
    }

    [Fact]
    public void Step_WrongActionCount_ThrowsNamingTheShape()
    {
        using var env = BuiltInLocomotion.Create("cheetah", 2);
        var s = new StepBuffers(env);
        var e = Assert.Throws<ArgumentException>(() => env.Step(new float[11], s.Rewards, s.Terminated, s.Truncated));
        Assert.Contains("[2, 6]", e.Message);
    }

    [Fact]
    public void Create_ActuatorWithoutCtrlRange_NamesTheActuator()
    {
        string path = _dir.Write("unlimited.xml", Sled.Xml.Replace("ctrllimited=\"true\" ctrlrange=\"0 2\"", ""));
        var e = Assert.Throws<SoupInputException>(() => new LocomotionEnv(Sled.Task(path), 1));
        Assert.Contains("actuator 'push'", e.Message);
        Assert.Contains("unlimited.xml", e.Message);
    }

    private static int[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, int>(values).ToArray();
}
