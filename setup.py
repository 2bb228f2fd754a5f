"""What setup.cfg cannot say: the top-level ``templates/`` and ``static/``
folders are shipped inside the package, as ``moderation/templates`` and
``moderation/static``, where ``create_app`` finds them once installed from a
wheel or an sdist. In a checkout (editable installs too) they stay at the
top level and are found there."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_FOLDERS = ("templates", "static")


class BuildWithPages(build_py):
    def run(self):
        super().run()
        for folder in SHIPPED_FOLDERS:
            target = os.path.join(self.build_lib, "moderation", folder)
            shutil.rmtree(target, ignore_errors=True)  # nothing deleted from the checkout is shipped
            self.copy_tree(folder, target)


setup(cmdclass={"build_py": BuildWithPages})
