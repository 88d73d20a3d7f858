using RewardedSoups.Tasks.Locomotion.Tests.Fixtures;

namespace RewardedSoups.Tasks.Locomotion.Tests;

/// <summary>
/// The struct offsets in MjLayout, checked by behaviour: every field read or written through them
/// must agree with what MuJoCo itself computes for models whose numbers are known.
/// </summary>
public sealed class MjLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly MjModel _sled;

    public MjLayoutTests() => _sled = MjModel.Load(_dir.Write("sled.xml", Sled.Xml));

    public void Dispose()
    {
        _sled.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void Sizes_Sled_MatchItsJoints()
    {
        Assert.Equal((9, 8, 1, 3), (_sled.Nq, _sled.Nv, _sled.Nu, _sled.Nbody));
        Assert.Equal(Sled.Timestep, _sled.Timestep);
    }

    [Fact]
    public void Sizes_DebianHumanoid_Are28Qpos27Qvel21Actuators17Bodies()
    {
        using var humanoid = MjModel.Load(BuiltInLocomotion.HumanoidModelPath);
        Assert.Equal((28, 27, 21, 17), (humanoid.Nq, humanoid.Nv, humanoid.Nu, humanoid.Nbody));
        Assert.Equal(0.005, humanoid.Timestep);
    }

    [Fact]
    public void Qpos0_Sled_HoldsSlideRefAndFreeJointPose()
    {
        Assert.Equal([0, 1, 1, 2, 3, 1, 0, 0, 0], _sled.Qpos0.ToArray());
    }

    [Fact]
    public void Reset_HumanoidFreeJoint_QposEqualsQpos0()
    {
        using var humanoid = MjModel.Load(BuiltInLocomotion.HumanoidModelPath);
        using var data = new MjData(humanoid);
        data.Qpos.Fill(7);
        data.Reset();
        Assert.Equal(humanoid.Qpos0.ToArray(), data.Qpos.ToArray());
        Assert.Equal([0, 0, 1.5, 1, 0, 0, 0], humanoid.Qpos0[..7].ToArray()); // torso at z 1.5, identity quaternion
    }

    [Fact]
    public void CtrlRange_Sled_IsZeroToTwoAndLimited()
    {
        Assert.Equal([0, 2], _sled.ActuatorCtrlRange.ToArray());
        Assert.True(_sled.IsCtrlLimited(0));
        Assert.Equal("push", _sled.ActuatorName(0));
    }

    [Fact]
    public void Names_Sled_BodiesByIdAndBack()
    {
        Assert.Equal(["world", "sled", "box"], Enumerable.Range(0, 3).Select(_sled.BodyName).ToArray());
        Assert.Equal(2, _sled.BodyId("box"));
        Assert.Equal(-1, _sled.BodyId("no such body"));
    }

    [Fact]
    public void Time_AfterSevenSteps_EqualsSevenTimesTimestep()
    {
        using var data = new MjData(_sled);
        for (int k = 0; k < 7; k++) data.Step();
        Assert.Equal(7 * Sled.Timestep, data.Time, 12);
        data.Reset();
        Assert.Equal(0, data.Time);
    }

    [Theory]
    [InlineData(0.5, 0.5)]
    [InlineData(5, 2)]   // above the range: MuJoCo clamps to 2
    [InlineData(-3, 0)]  // below it: clamped to 0
    public void Ctrl_OneStep_PushesSledByClampedForceOverMass(double ctrl, double applied)
    {
        using var data = new MjData(_sled);
        data.Ctrl[0] = ctrl;
        data.Step();
        double v = Sled.Timestep * applied / Sled.Mass;
        Assert.Equal(v, data.Qvel[0], 14);
        Assert.Equal(Sled.Timestep * v, data.Qpos[0], 14);
        Assert.Equal(ctrl, data.Ctrl[0]); // MuJoCo clamps what it applies, not what we wrote
    }

    [Fact]
    public void Qvel_FreeBoxMovingAlongX_AdvancesQposByVelocityTimesTime()
    {
        using var data = new MjData(_sled);
        data.Qvel[2] = 3; // dof 2 = the box's x velocity (dofs: sled x, sled z, box x y z, box rotation)
        for (int k = 0; k < 4; k++) data.Step();
        Assert.Equal(1 + 3 * 4 * Sled.Timestep, data.Qpos[2], 12);
        Assert.Equal([2, 3, 1, 0, 0, 0], data.Qpos[3..].ToArray());
    }

    [Fact]
    public void Xpos_AfterKinematics_PlacesBodiesWhereTheirJointsSay()
    {
        using var data = new MjData(_sled);
        data.Qpos[0] = 0.25;
        data.Qpos[1] = 1.5; // z has ref 1: the sled rises by 0.5 from its pos
        data.Kinematics();
        Assert.Equal([0, 0, 0, 0.25, 0, 1.5, 1, 2, 3], data.Xpos.ToArray());
    }

    [Fact]
    public void WarningCount_NaNVelocity_CountsBadQvelUntilReset()
    {
        using var data = new MjData(_sled);
        Assert.Equal(0, data.WarningCount(MjWarning.BadQvel));
        data.Qvel[0] = double.NaN;
        data.Step();
        Assert.Equal(1, data.WarningCount(MjWarning.BadQvel));
        Assert.Equal(0, data.WarningCount(MjWarning.BadQacc));
        // MuJoCo resets the state itself, so only the counter tells that the step blew up.
        Assert.True(double.IsFinite(data.Qvel[0]));
        data.Reset();
        Assert.Equal(0, data.WarningCount(MjWarning.BadQvel));
    }

    [Fact]
    public void WarningCount_NaNControl_CountsBadCtrlOnly()
    {
        using var data = new MjData(_sled);
        data.Ctrl[0] = double.NaN;
        data.Step();
        // Index 7 against index 5 above: the stride of the warning array is right too.
        Assert.Equal(1, data.WarningCount(MjWarning.BadCtrl));
        Assert.Equal(0, data.WarningCount(MjWarning.BadQvel));
        Assert.Equal(0.0, data.Qvel[0]); // the bad control was not applied
    }
}
