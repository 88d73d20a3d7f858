namespace RewardedSoups.Tasks.Locomotion.Tests.Fixtures;

/// <summary>
/// A model whose motion is known in closed form, for checking what we read and write against
/// arithmetic: no gravity, no contacts, no damping. A 2 kg sled on two slide joints (x; z with ref 1)
/// pushed along x by one motor with ctrlrange [0, 2] and gear 1, and a 1 kg box on a free joint at
/// (1, 2, 3). qpos = [x, z, box x, y, z, qw, qx, qy, qz] (nq 9), qvel [8], bodies world, sled, box.
/// Semi-implicit Euler: v ← v + h·F/m, then x ← x + h·v.
/// </summary>
public static class Sled
{
    public const double Timestep = 0.01;
    public const double Mass = 2;

    public const string Xml = """
        <mujoco model="sled">
          <option timestep="0.01" gravity="0 0 0"/>
          <worldbody>
            <body name="sled" pos="0 0 1">
              <joint name="x" type="slide" axis="1 0 0"/>
              <joint name="z" type="slide" axis="0 0 1" ref="1"/>
              <geom type="sphere" size="0.1" mass="2"/>
            </body>
            <body name="box" pos="1 2 3">
              <freejoint/>
              <geom type="box" size="0.1 0.1 0.1" mass="1"/>
            </body>
          </worldbody>
          <actuator>
            <motor name="push" joint="x" gear="1" ctrllimited="true" ctrlrange="0 2"/>
          </actuator>
        </mujoco>
        """;

    /// <summary>The sled as a planar task without reset noise: three timesteps per step, x hidden, height = z.</summary>
    public static LocomotionTask Task(string modelPath) => new()
    {
        Name = "sled",
        ModelPath = modelPath,
        FrameSkip = 3,
        HiddenPositions = 1,
        HeightIndex = 1,
        ResetNoise = 0,
    };
}
