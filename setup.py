"""Metadata is in setup.cfg. This adds one build step: the wheel carries the repository's descriptors/ and
helm-charts/ as package data under osm_l2sm/data/ (see osm_l2sm/data), links resolved to real files."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_FOLDERS = ("descriptors", "helm-charts")  # the names osm_l2sm.data.FOLDERS looks for


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own folders
        target = Path(self.build_lib, "osm_l2sm", "data")
        for folder in DATA_FOLDERS:
            shutil.rmtree(target / folder, ignore_errors=True)
            # symlinks=False: the packages link their charts to ../../../helm-charts; a wheel needs the files
            shutil.copytree(HERE / folder, target / folder, symlinks=False,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData})
