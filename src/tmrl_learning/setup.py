"""tmrl_learning: plain `pip install -e src/tmrl_learning` and colcon (ament_python) both use this."""

from setuptools import find_packages, setup

PACKAGE = "tmrl_learning"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["numpy", "pyyaml", "tqdm", "matplotlib", "torch"],
    python_requires=">=3.10",
    zip_safe=True,
    description="tmrl algorithms (CSP, TMRL, baselines, OGBench data) without ROS",
    license="Apache-2.0",
    entry_points={"console_scripts": ["tmrl = tmrl_learning.cli:main"]},
)
