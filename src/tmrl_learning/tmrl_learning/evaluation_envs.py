"""Which environment each evaluation episode runs in, and how many exist at once.

Episode i runs task i mod n (every task gets its share) in an environment made with seed `env_seed + i` that holds
only that task; with `spread_tasks=False` the environment draws its task from its seed instead (success@K's starts,
`reset(seed=42 + i)` as the authors). An embodiment that limits how many environments may exist at once
(`max_envs`: a LIBERO server process, a cube simulator of ~150 MB) has them made per group and closed after it;
others are made once and kept.
"""

from __future__ import annotations

from collections.abc import Iterator

from tmrl_learning.embodiment import Embodiment


class EvaluationEnvs:
    def __init__(self, embodiment: Embodiment, episodes: int, env_seed: int = 50_000, spread_tasks: bool = True):
        if episodes < 1:
            raise ValueError(f"an evaluation needs at least one episode, got {episodes}")
        self.embodiment, self.episodes, self.env_seed = embodiment, episodes, env_seed
        self.spread_tasks = spread_tasks
        limit = embodiment.max_envs
        self.group_size = limit if 0 < limit < episodes else episodes
        self._kept: list | None = None

    def __len__(self) -> int:
        return self.episodes

    def task_of(self, episode: int) -> str:
        tasks = self.embodiment.tasks
        return tasks[episode % len(tasks)].name

    def _make(self, first: int, count: int) -> list:
        return [self.embodiment.make_env(seed=self.env_seed + first + j,
                                         tasks=[self.task_of(first + j)] if self.spread_tasks else None)
                for j in range(count)]

    def groups(self) -> Iterator[tuple[int, list]]:
        """(index of the group's first episode, its environments), in episode order."""
        if self.group_size == self.episodes:
            if self._kept is None:
                self._kept = self._make(0, self.episodes)
            yield 0, self._kept
            return
        for first in range(0, self.episodes, self.group_size):
            envs = self._make(first, min(self.group_size, self.episodes - first))
            try:
                yield first, envs
            finally:
                for env in envs:
                    env.close()

    def close(self) -> None:
        for env in self._kept or []:
            env.close()
        self._kept = None
